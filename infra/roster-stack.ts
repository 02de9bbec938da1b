import { ArnFormat, CfnOutput, Duration, RemovalPolicy, SecretValue, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { LambdaDestination } from 'aws-cdk-lib/aws-s3-notifications';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct, IConstruct } from 'constructs';
import {
  apiEnvironment,
  authorizerEnvironment,
  csvImportEnvironment,
  exportEnvironment,
  postgresSyncEnvironment,
  salesforceSyncEnvironment,
  type EnvironmentOf,
} from '../shared/config/function-environments.js';
import { allApiRoutes } from '../shared/http/api-contract.js';
import { HttpApi } from './constructs/http-api.js';
import { RosterFunction } from './constructs/roster-function.js';
import { bucketPrefixes, Storage } from './constructs/storage.js';
import { SyncScheduling } from './constructs/sync-scheduling.js';
import { acknowledge, nagArn } from './constructs/nag.js';
import { Monitoring } from './constructs/monitoring.js';

/** The importer's memory: about one full vCPU (1,769 MB), room to stream any file. The bench sizes its heap from it. */
export const CSV_IMPORT_MEMORY_MB = 1769;

/** The PostgreSQL sync's memory (a batch of rows and the writes in flight; flat for any result size). The bench sizes its heap from it. */
export const POSTGRES_SYNC_MEMORY_MB = 1024;

export interface RosterStackProps extends StackProps {
  /** Deployment stage (e.g. `dev`, `prod`); tagged on every resource. */
  stage?: string;
  /** Origins allowed by CORS (API and bucket). Default `['*']`. */
  corsOrigins?: string[];
  /** SNS topic every alarm notifies (on alarm and on recovery). Without it the alarms show only in the console. */
  alarmTopicArn?: string;
  /** Reserved concurrency of the CSV importer. Default 20. */
  csvImportConcurrency?: number;
  /** Reserved concurrency of the PostgreSQL sync (runs of all tenants at once; more wait in Lambda's queue). Default 10. */
  postgresSyncConcurrency?: number;
  /** Reserved concurrency of the Salesforce sync (runs of all tenants at once). Default 10. */
  salesforceSyncConcurrency?: number;
  /**
   * Name of the platform secret holding Roster's Salesforce connected app, JSON
   * `{"clientId","clientSecret"}` (one app per deployment; the tenants' tokens are their own
   * secrets). Default `roster/platform/salesforce-app`. Output `SalesforceAppSecretName`.
   */
  salesforceAppSecretName?: string;
  /**
   * `true`: the secret `salesforceAppSecretName` exists already (made by hand, shared by the
   * stages of one account, or retained by a destroyed stack) and is imported. Default: the
   * stack creates it with empty values (Salesforce is "not configured" until they are filled in).
   */
  salesforceAppSecretExists?: boolean;
  /**
   * Static egress: the sync functions run in a VPC whose private subnets reach the internet
   * through a NAT gateway with an Elastic IP, so tenants can allowlist one address in their
   * database firewall or their Salesforce org's login IP ranges (output `SyncEgressIp`). Costs a NAT gateway (~$33/month + data). Default off.
   */
  staticEgress?: boolean;
}

type ObjectAccess = 'read' | 'write' | 'readWrite';

/**
 * Roster: DynamoDB tables and the data bucket, the API function behind an HTTP API with a
 * Lambda authorizer, the CSV importer fed by S3 notifications, and what the sync schedules need.
 */
export class RosterStack extends Stack {
  readonly storage: Storage;
  readonly httpApi: HttpApi;
  readonly scheduling: SyncScheduling;
  readonly apiFunction: RosterFunction<typeof apiEnvironment>;
  readonly authorizerFunction: RosterFunction<typeof authorizerEnvironment>;
  readonly csvImportFunction: RosterFunction<typeof csvImportEnvironment>;
  readonly csvImportDeadLetterQueue: sqs.Queue;
  readonly exportFunction: RosterFunction<typeof exportEnvironment>;
  readonly exportDeadLetterQueue: sqs.Queue;
  readonly postgresSyncFunction: RosterFunction<typeof postgresSyncEnvironment>;
  readonly postgresSyncDeadLetterQueue: sqs.Queue;
  readonly salesforceSyncFunction: RosterFunction<typeof salesforceSyncEnvironment>;
  readonly salesforceSyncDeadLetterQueue: sqs.Queue;
  /** Roster's Salesforce connected app (`{"clientId","clientSecret"}`): created by the stack, or imported. */
  readonly salesforceAppSecret: secretsmanager.ISecret;
  readonly egressVpc: ec2.Vpc | undefined;
  readonly monitoring: Monitoring;
  readonly stage: string | undefined;
  readonly alarmTopicArn: string | undefined;

  constructor(scope: Construct, id: string, props: RosterStackProps = {}) {
    super(scope, id, props);
    this.stage = props.stage;
    this.alarmTopicArn = props.alarmTopicArn;
    const corsOrigins = props.corsOrigins?.length ? props.corsOrigins : ['*'];

    this.storage = new Storage(this, 'Storage', { corsOrigins });
    const { Control: control, Users: users, Events: events } = this.storage.tables;
    const bucket = this.storage.bucket;

    this.authorizerFunction = new RosterFunction(this, 'Authorizer', {
      name: 'authorizer',
      description: 'HTTP API authorizer: API key to tenant',
      schema: authorizerEnvironment,
      // A revoked key stops working within this (API.md: ≤ 60 s deployed).
      environment: { CONTROL_TABLE: control.tableName, API_KEY_CACHE_SECONDS: 60 },
      memorySize: 512,
      timeout: Duration.seconds(10),
    });
    control.grantReadData(this.authorizerFunction);

    this.exportDeadLetterQueue = this.deadLetterQueue('ExportDeadLetterQueue');
    this.exportFunction = new RosterFunction(this, 'Export', {
      name: 'export',
      description: 'Writes a CSV export of users or events',
      schema: exportEnvironment,
      environment: {
        CONTROL_TABLE: control.tableName,
        USERS_TABLE: users.tableName,
        EVENTS_TABLE: events.tableName,
        DATA_BUCKET: bucket.bucketName,
      },
      memorySize: 1024,
      timeout: Duration.minutes(15),
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: new SqsDestination(this.exportDeadLetterQueue),
    });
    // Reads users and events; writes only its own job records in the control table.
    users.grantReadData(this.exportFunction);
    events.grantReadData(this.exportFunction);
    control.grantReadWriteData(this.exportFunction);
    // exports/* only: parts are written, read back when joined, then deleted.
    grantObjects(bucket, this.exportFunction, bucketPrefixes.exports, 'readWrite');
    this.exportFunction.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['s3:DeleteObject'], resources: [bucket.arnForObjects(`${bucketPrefixes.exports}*`)] }),
    );
    new iam.Policy(this, 'ExportContinuation', {
      roles: [this.exportFunction.role!],
      statements: [new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.exportFunction.functionArn] })],
    });

    this.scheduling = new SyncScheduling(this, 'SyncScheduling');
    let egressIp: ec2.CfnEIP | undefined;
    if (props.staticEgress) {
      egressIp = new ec2.CfnEIP(this, 'SyncEgressAddress', { domain: 'vpc' });
      this.egressVpc = new ec2.Vpc(this, 'SyncEgressVpc', {
        maxAzs: 2,
        natGateways: 1,
        natGatewayProvider: ec2.NatProvider.gateway({ eipAllocationIds: [egressIp.attrAllocationId] }),
        // Rejected connections are logged: the trail of what the syncs tried to reach.
        flowLogs: { rejected: { trafficType: ec2.FlowLogTrafficType.REJECT } },
        subnetConfiguration: [
          { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
          { name: 'sync', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
        ],
      });
    }
    this.postgresSyncDeadLetterQueue = this.deadLetterQueue('PostgresSyncDeadLetterQueue');
    this.postgresSyncFunction = new RosterFunction(this, 'PostgresSync', {
      name: 'postgres-sync',
      description: "Syncs users from a tenant's PostgreSQL",
      schema: postgresSyncEnvironment,
      environment: {
        CONTROL_TABLE: control.tableName,
        USERS_TABLE: users.tableName,
        EVENTS_TABLE: events.tableName,
        ROSTER_ALLOW_PRIVATE_HOSTS: 'false',
      },
      // The SQL parser's WASM is read from beside the bundle.
      bundledFiles: ['node_modules/libpg-query/wasm/libpg-query.wasm'],
      memorySize: POSTGRES_SYNC_MEMORY_MB,
      timeout: Duration.minutes(15),
      reservedConcurrentExecutions: props.postgresSyncConcurrency ?? 10,
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: new SqsDestination(this.postgresSyncDeadLetterQueue),
      ...(this.egressVpc ? { vpc: this.egressVpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } } : {}),
    });
    for (const table of [control, users, events]) table.grantReadWriteData(this.postgresSyncFunction);
    grantSecrets(this.postgresSyncFunction, 'postgres', ['secretsmanager:GetSecretValue']);
    new iam.Policy(this, 'PostgresSyncContinuation', {
      roles: [this.postgresSyncFunction.role!],
      statements: [new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.postgresSyncFunction.functionArn] })],
    });
    // The schedules' role may invoke the sync functions and nothing else.
    this.scheduling.allowInvoke(this.postgresSyncFunction);

    const salesforceAppSecretName = props.salesforceAppSecretName ?? 'roster/platform/salesforce-app';
    this.salesforceAppSecret = props.salesforceAppSecretExists
      ? secretsmanager.Secret.fromSecretNameV2(this, 'SalesforceAppSecret', salesforceAppSecretName)
      : this.salesforceAppPlaceholderSecret(salesforceAppSecretName);
    // An imported name has no suffix in its ARN: IAM needs the six characters Secrets Manager appends.
    const appSecretArn = props.salesforceAppSecretExists ? `${this.salesforceAppSecret.secretArn}-??????` : this.salesforceAppSecret.secretArn;

    this.salesforceSyncDeadLetterQueue = this.deadLetterQueue('SalesforceSyncDeadLetterQueue');
    this.salesforceSyncFunction = new RosterFunction(this, 'SalesforceSync', {
      name: 'salesforce-sync',
      description: "Syncs users with a tenant's Salesforce org",
      schema: salesforceSyncEnvironment,
      environment: {
        CONTROL_TABLE: control.tableName,
        USERS_TABLE: users.tableName,
        EVENTS_TABLE: events.tableName,
        ROSTER_ALLOW_PRIVATE_HOSTS: 'false',
        SALESFORCE_APP_SECRET_NAME: salesforceAppSecretName,
      },
      memorySize: 1024,
      timeout: Duration.minutes(15),
      reservedConcurrentExecutions: props.salesforceSyncConcurrency ?? 10,
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: new SqsDestination(this.salesforceSyncDeadLetterQueue),
      // Orgs may restrict logins to IP ranges: with static egress the sync connects from the one address.
      ...(this.egressVpc ? { vpc: this.egressVpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } } : {}),
    });
    for (const table of [control, users, events]) table.grantReadWriteData(this.salesforceSyncFunction);
    // Reads the tenant's tokens and stores the new ones when Salesforce rotates the refresh token.
    grantSecrets(this.salesforceSyncFunction, 'salesforce', ['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue', 'secretsmanager:DescribeSecret']);
    grantAppSecret(appSecretArn, this.salesforceSyncFunction);
    new iam.Policy(this, 'SalesforceSyncContinuation', {
      roles: [this.salesforceSyncFunction.role!],
      statements: [new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.salesforceSyncFunction.functionArn] })],
    });
    this.scheduling.allowInvoke(this.salesforceSyncFunction);

    this.apiFunction = new RosterFunction(this, 'Api', {
      name: 'api',
      description: 'Roster HTTP API',
      schema: apiEnvironment,
      environment: {
        CONTROL_TABLE: control.tableName,
        USERS_TABLE: users.tableName,
        EVENTS_TABLE: events.tableName,
        DATA_BUCKET: bucket.bucketName,
        CORS_ORIGINS: corsOrigins.join(','),
        MAX_UPLOAD_BYTES: String(5 * 1024 ** 3),
        EXPORT_FUNCTION_NAME: this.exportFunction.functionName,
        POSTGRES_SYNC_FUNCTION_NAME: this.postgresSyncFunction.functionName,
        POSTGRES_SYNC_FUNCTION_ARN: this.postgresSyncFunction.functionArn,
        SALESFORCE_SYNC_FUNCTION_NAME: this.salesforceSyncFunction.functionName,
        SALESFORCE_SYNC_FUNCTION_ARN: this.salesforceSyncFunction.functionArn,
        SALESFORCE_APP_SECRET_NAME: salesforceAppSecretName,
        SCHEDULE_GROUP: this.scheduling.scheduleGroupName,
        SCHEDULER_ROLE_ARN: this.scheduling.role.roleArn,
        SCHEDULER_DLQ_ARN: this.scheduling.deadLetterQueue.queueArn,
        ROSTER_ALLOW_PRIVATE_HOSTS: 'false',
      },
      // PUT and preview parse the tenant's SQL with libpg-query (WASM beside the bundle).
      bundledFiles: ['node_modules/libpg-query/wasm/libpg-query.wasm'],
      // The integration routes' modules (jsforce; pg and the SQL parser) load on first use, from chunks of their own.
      lazyChunks: [
        { name: 'salesforce', entry: 'shared/integrations/salesforce/salesforce-wiring.ts' },
        { name: 'postgres', entry: 'shared/integrations/postgres/postgres-integration-service.ts', dirname: true },
      ],
      memorySize: 1024,
      timeout: Duration.seconds(29),
      // A preview connects to the tenant's database: through the static egress address too, when it is on.
      ...(this.egressVpc ? { vpc: this.egressVpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } } : {}),
    });
    this.postgresSyncFunction.grantInvoke(this.apiFunction);
    this.salesforceSyncFunction.grantInvoke(this.apiFunction);
    const tenantSecretWrites = ['secretsmanager:GetSecretValue', 'secretsmanager:CreateSecret', 'secretsmanager:PutSecretValue', 'secretsmanager:DeleteSecret', 'secretsmanager:DescribeSecret'];
    grantSecrets(this.apiFunction, 'postgres', tenantSecretWrites);
    // The OAuth callback stores a tenant's Salesforce tokens; DELETE /integrations/salesforce removes them.
    grantSecrets(this.apiFunction, 'salesforce', tenantSecretWrites);
    grantAppSecret(appSecretArn, this.apiFunction);
    // The API creates, changes and deletes the tenants' schedules in the stack's group, handing them the scheduler role.
    this.apiFunction.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['scheduler:CreateSchedule', 'scheduler:UpdateSchedule', 'scheduler:DeleteSchedule', 'scheduler:GetSchedule'],
        resources: [this.formatArn({ service: 'scheduler', resource: 'schedule', resourceName: `${this.scheduling.scheduleGroupName}/*` })],
      }),
    );
    this.apiFunction.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [this.scheduling.role.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
      }),
    );
    for (const table of [control, users, events]) table.grantReadWriteData(this.apiFunction);
    grantObjects(bucket, this.apiFunction, bucketPrefixes.uploads, 'readWrite');
    // Presigned download URLs of exports are signed with the API function's role.
    grantObjects(bucket, this.apiFunction, bucketPrefixes.exports, 'read');
    this.exportFunction.grantInvoke(this.apiFunction);
    grantObjects(bucket, this.apiFunction, bucketPrefixes.errors, 'read');

    this.csvImportDeadLetterQueue = this.deadLetterQueue('CsvImportDeadLetterQueue');
    this.csvImportFunction = new RosterFunction(this, 'CsvImport', {
      name: 'csv-import',
      description: 'Imports an uploaded CSV file',
      schema: csvImportEnvironment,
      environment: {
        CONTROL_TABLE: control.tableName,
        USERS_TABLE: users.tableName,
        EVENTS_TABLE: events.tableName,
        DATA_BUCKET: bucket.bucketName,
        IMPORT_LEASE_SECONDS: '120',
      },
      memorySize: CSV_IMPORT_MEMORY_MB,
      timeout: Duration.minutes(15),
      reservedConcurrentExecutions: props.csvImportConcurrency ?? 20,
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: new SqsDestination(this.csvImportDeadLetterQueue),
    });
    for (const table of [control, users, events]) table.grantReadWriteData(this.csvImportFunction);
    grantObjects(bucket, this.csvImportFunction, bucketPrefixes.uploads, 'read');
    // Error reports are written in parts, then joined into one file and the parts deleted.
    grantObjects(bucket, this.csvImportFunction, bucketPrefixes.errors, 'readWrite');
    this.csvImportFunction.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['s3:DeleteObject'], resources: [bucket.arnForObjects(`${bucketPrefixes.errors}*`)] }),
    );
    // A long import continues in a new invocation of the importer (asynchronous self-invoke).
    // A separate policy, not the role's default one, avoids a function ↔ policy dependency cycle.
    new iam.Policy(this, 'CsvImportContinuation', {
      roles: [this.csvImportFunction.role!],
      statements: [new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.csvImportFunction.functionArn] })],
    });
    bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new LambdaDestination(this.csvImportFunction), {
      prefix: bucketPrefixes.uploads,
      suffix: '.csv',
    });

    this.httpApi = new HttpApi(this, 'HttpApi', {
      routes: allApiRoutes,
      handler: this.apiFunction,
      authorizer: this.authorizerFunction,
      corsOrigins,
    });

    // The redirect URI the API hands Salesforce, pinned to the output below (no cycle: the
    // function depends on the API resource only; the API's integration depends on the function).
    const publicApiUrl: EnvironmentOf<typeof apiEnvironment>['PUBLIC_API_URL'] = this.httpApi.url;
    this.apiFunction.addEnvironment('PUBLIC_API_URL', publicApiUrl);

    this.acknowledgeScopedWildcards(bucket, [users, events]);

    this.monitoring = new Monitoring(this, 'Monitoring', {
      functions: [this.apiFunction, this.authorizerFunction, this.csvImportFunction, this.exportFunction, this.postgresSyncFunction, this.salesforceSyncFunction],
      deadLetterQueues: [
        { name: 'CsvImportDeadLetterQueue', queue: this.csvImportDeadLetterQueue },
        { name: 'ExportDeadLetterQueue', queue: this.exportDeadLetterQueue },
        { name: 'PostgresSyncDeadLetterQueue', queue: this.postgresSyncDeadLetterQueue },
        { name: 'SalesforceSyncDeadLetterQueue', queue: this.salesforceSyncDeadLetterQueue },
        { name: 'ScheduleDeadLetterQueue', queue: this.scheduling.deadLetterQueue },
      ],
      httpApi: this.httpApi.api,
      syncs: [
        { integration: 'postgres', fn: this.postgresSyncFunction },
        { integration: 'salesforce', fn: this.salesforceSyncFunction },
      ],
      alarmTopicArn: props.alarmTopicArn,
    });

    new CfnOutput(this, 'ApiUrl', { value: this.httpApi.url, description: 'Base URL of the HTTP API' });
    new CfnOutput(this, 'ControlTableName', { value: control.tableName });
    new CfnOutput(this, 'UsersTableName', { value: users.tableName });
    new CfnOutput(this, 'EventsTableName', { value: events.tableName });
    new CfnOutput(this, 'DataBucketName', { value: bucket.bucketName });
    new CfnOutput(this, 'ScheduleGroupName', { value: this.scheduling.scheduleGroupName });
    new CfnOutput(this, 'SalesforceAppSecretName', {
      value: salesforceAppSecretName,
      description: "Secret holding Roster's Salesforce connected app: put {\"clientId\",\"clientSecret\"} in it",
    });
    new CfnOutput(this, 'SalesforceCallbackUrl', {
      value: `${this.httpApi.url}/integrations/salesforce/callback`,
      description: "The connected app's OAuth callback URL (register it in Salesforce)",
    });
    new CfnOutput(this, 'DashboardName', { value: this.monitoring.dashboard.dashboardName, description: 'CloudWatch dashboard of the API, functions, rows and runs' });
    if (egressIp) {
      new CfnOutput(this, 'SyncEgressIp', {
        value: egressIp.attrPublicIp,
        description: 'The address syncs connect from: allowlist it in the tenant database firewall',
      });
    }
  }

  /**
   * The platform secret, created with empty values: the operator fills in the connected app's
   * consumer key and secret after the first deploy; until then connecting Salesforce is a 422.
   * Retained on stack deletion (import it again with `salesforceAppSecretExists`).
   */
  private salesforceAppPlaceholderSecret(secretName: string): secretsmanager.Secret {
    const secret = new secretsmanager.Secret(this, 'SalesforceAppSecret', {
      secretName,
      description: "Roster's Salesforce connected app: {\"clientId\",\"clientSecret\"} (consumer key and secret)",
      // A placeholder, not a secret: CloudFormation sets it once; the real values are put by hand.
      secretStringValue: SecretValue.unsafePlainText(JSON.stringify({ clientId: '', clientSecret: '' })),
      removalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledge(
      secret,
      'AwsSolutions::AwsSolutions-SMG4',
      "The consumer key and secret of Roster's Salesforce connected app: issued and rotated in Salesforce (the app's settings), then put here by hand; Secrets Manager cannot rotate them.",
    );
    return secret;
  }

  /** Where a function's failed asynchronous events go: encrypted, TLS only, kept 14 days. */
  private deadLetterQueue(id: string): sqs.Queue {
    const queue = new sqs.Queue(this, id, { encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true, retentionPeriod: Duration.days(14) });
    acknowledge(queue, 'AwsSolutions::AwsSolutions-SQS3', 'This queue is itself a dead-letter queue (a Lambda on-failure destination); a DLQ of a DLQ would only move the problem.');
    acknowledge(queue, 'Serverless::Serverless-SQSRedrivePolicy', 'This queue is itself a dead-letter queue; nothing consumes it automatically, so there is nothing to redrive from it.');
    return queue;
  }

  /**
   * The wildcards cdk-nag reports in the functions' policies, each scoped by design: one
   * finding at a time, on the function whose policy holds it.
   */
  private acknowledgeScopedWildcards(bucket: s3.IBucket, indexedTables: IConstruct[]): void {
    const bucketArn = nagArn(bucket);
    const objectReaders = [this.apiFunction, this.csvImportFunction, this.exportFunction];
    const prefixes: Array<[RosterFunction, string[]]> = [
      [this.apiFunction, [bucketPrefixes.uploads, bucketPrefixes.exports, bucketPrefixes.errors]],
      [this.csvImportFunction, [bucketPrefixes.uploads, bucketPrefixes.errors]],
      [this.exportFunction, [bucketPrefixes.exports]],
    ];
    for (const [fn, fnPrefixes] of prefixes) {
      for (const prefix of fnPrefixes) {
        acknowledge(fn, `AwsSolutions::AwsSolutions-IAM5[Resource::${bucketArn}/${prefix}*]`, `Objects under ${prefix} only: every key below it is <tenant>/<id>, written by Roster itself; no other prefix of the bucket.`);
      }
    }
    for (const fn of objectReaders) {
      for (const action of ['s3:GetObject*', 's3:GetBucket*', 's3:List*']) {
        acknowledge(fn, `AwsSolutions::AwsSolutions-IAM5[Action::${action}]`, `${action} comes from Bucket.grantRead on one key prefix (object reads, plus the bucket-level reads that make a missing key a 404 instead of a 403); no write or ACL actions.`);
      }
    }
    for (const fn of [this.apiFunction, this.csvImportFunction, this.exportFunction, this.postgresSyncFunction, this.salesforceSyncFunction]) {
      for (const table of indexedTables) {
        acknowledge(fn, `AwsSolutions::AwsSolutions-IAM5[Resource::${nagArn(table)}/index/*]`, 'The indexes of this one table (listing users by shard, events by type and day); no other table.');
      }
    }
    acknowledge(this.apiFunction, `AwsSolutions::AwsSolutions-IAM5[Resource::${nagArn(this.exportFunction)}:*]`, 'Lambda.grantInvoke also covers the versions and aliases of this one function (the export function).');
    acknowledge(this.apiFunction, `AwsSolutions::AwsSolutions-IAM5[Resource::${nagArn(this.postgresSyncFunction)}:*]`, 'Lambda.grantInvoke also covers the versions and aliases of this one function (the PostgreSQL sync).');
    acknowledge(this.apiFunction, `AwsSolutions::AwsSolutions-IAM5[Resource::${nagArn(this.salesforceSyncFunction)}:*]`, 'Lambda.grantInvoke also covers the versions and aliases of this one function (the Salesforce sync).');
    acknowledge(this.scheduling.role, `AwsSolutions::AwsSolutions-IAM5[Resource::${nagArn(this.postgresSyncFunction)}:*]`, 'The schedules may invoke the PostgreSQL sync function (its versions and aliases included) and nothing else.');
    acknowledge(this.scheduling.role, `AwsSolutions::AwsSolutions-IAM5[Resource::${nagArn(this.salesforceSyncFunction)}:*]`, 'The schedules may invoke the Salesforce sync function (its versions and aliases included) and nothing else.');
    for (const [kind, fns] of [
      ['postgres', [this.apiFunction, this.postgresSyncFunction]],
      ['salesforce', [this.apiFunction, this.salesforceSyncFunction]],
    ] as const) {
      const secrets = `arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:roster/*/${kind}*`;
      const secretReason = `One secret per tenant, roster/<tenant>/${kind} (plus the random suffix Secrets Manager appends): the tenant segment must be a wildcard, the integration segment is fixed.`;
      for (const fn of fns) acknowledge(fn, `AwsSolutions::AwsSolutions-IAM5[Resource::${secrets}]`, secretReason);
    }
    acknowledge(
      this.apiFunction,
      `AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/${this.scheduling.scheduleGroupName}/*]`,
      "Tenants' schedules are created at run time, one per tenant and integration, only inside this stack's schedule group.",
    );
    const notifications = this.node.children.find((child) => child.node.id.startsWith('BucketNotificationsHandler'));
    if (notifications) {
      acknowledge(
        notifications,
        'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        "CDK's own bucket-notification custom resource; the managed policy grants only CloudWatch Logs writes.",
      );
    }
  }
}

/**
 * Secrets of one integration kind of every tenant: `roster/<tenant>/<kind>` (the ARN adds a
 * random six-character suffix, hence the trailing `*`). No other secret of the account.
 */
function grantSecrets(fn: RosterFunction, kind: 'postgres' | 'salesforce', actions: string[]): void {
  const stack = Stack.of(fn);
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions,
      resources: [stack.formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: `roster/*/${kind}*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
    }),
  );
}

/**
 * Reading Roster's Salesforce app secret, and nothing more: its default name lies inside the
 * tenants' `roster/<tenant>/salesforce*` pattern, which the API and the sync may write, so writes to it
 * are denied explicitly (only an operator changes the app's credentials).
 */
function grantAppSecret(secretArn: string, fn: RosterFunction): void {
  fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [secretArn] }));
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      effect: iam.Effect.DENY,
      actions: ['secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecret', 'secretsmanager:DeleteSecret', 'secretsmanager:CreateSecret'],
      resources: [secretArn],
    }),
  );
}

/**
 * Object permissions under one key prefix only, never the whole bucket. Reading uses
 * `grantRead` (GetObject* on the prefix, plus bucket-level List/GetBucket so a missing key
 * is a 404, not a 403); writing is PutObject and AbortMultipartUpload on the prefix (no ACL
 * or retention actions).
 */
function grantObjects(bucket: s3.IBucket, fn: RosterFunction, prefix: string, access: ObjectAccess): void {
  const keys = `${prefix}*`;
  if (access !== 'write') bucket.grantRead(fn, keys);
  if (access !== 'read') {
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
        resources: [bucket.arnForObjects(keys)],
      }),
    );
  }
}
