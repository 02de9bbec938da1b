import { ArnFormat, CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { LambdaDestination } from 'aws-cdk-lib/aws-s3-notifications';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct, IConstruct } from 'constructs';
import {
  apiEnvironment,
  authorizerEnvironment,
  csvImportEnvironment,
  exportEnvironment,
  postgresSyncEnvironment,
} from '../shared/config/function-environments.js';
import { allApiRoutes } from '../shared/http/api-contract.js';
import { HttpApi } from './constructs/http-api.js';
import { RosterFunction } from './constructs/roster-function.js';
import { bucketPrefixes, Storage } from './constructs/storage.js';
import { SyncScheduling } from './constructs/sync-scheduling.js';
import { acknowledge, nagArn } from './constructs/nag.js';
import { Monitoring } from './constructs/monitoring.js';

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
  /**
   * Static egress: the sync function runs in a VPC whose private subnets reach the internet
   * through a NAT gateway with an Elastic IP, so tenants can allowlist one address in their
   * database firewall (output `SyncEgressIp`). Costs a NAT gateway (~$33/month + data). Default off.
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
      environment: { CONTROL_TABLE: control.tableName },
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
      memorySize: 1024,
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
    // The schedules' role may invoke the sync function and nothing else.
    this.scheduling.allowInvoke(this.postgresSyncFunction);

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
        SCHEDULE_GROUP: this.scheduling.scheduleGroupName,
        SCHEDULER_ROLE_ARN: this.scheduling.role.roleArn,
        SCHEDULER_DLQ_ARN: this.scheduling.deadLetterQueue.queueArn,
        ROSTER_ALLOW_PRIVATE_HOSTS: 'false',
      },
      // PUT and preview parse the tenant's SQL with libpg-query (WASM beside the bundle).
      bundledFiles: ['node_modules/libpg-query/wasm/libpg-query.wasm'],
      memorySize: 1024,
      timeout: Duration.seconds(29),
      // A preview connects to the tenant's database: through the static egress address too, when it is on.
      ...(this.egressVpc ? { vpc: this.egressVpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } } : {}),
    });
    this.postgresSyncFunction.grantInvoke(this.apiFunction);
    grantSecrets(this.apiFunction, 'postgres', ['secretsmanager:GetSecretValue', 'secretsmanager:CreateSecret', 'secretsmanager:PutSecretValue', 'secretsmanager:DeleteSecret', 'secretsmanager:DescribeSecret']);
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
      memorySize: 1769,
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

    this.acknowledgeScopedWildcards(bucket, [users, events]);

    this.monitoring = new Monitoring(this, 'Monitoring', {
      functions: [this.apiFunction, this.authorizerFunction, this.csvImportFunction, this.exportFunction, this.postgresSyncFunction],
      deadLetterQueues: [
        { name: 'CsvImportDeadLetterQueue', queue: this.csvImportDeadLetterQueue },
        { name: 'ExportDeadLetterQueue', queue: this.exportDeadLetterQueue },
        { name: 'PostgresSyncDeadLetterQueue', queue: this.postgresSyncDeadLetterQueue },
        { name: 'ScheduleDeadLetterQueue', queue: this.scheduling.deadLetterQueue },
      ],
      httpApi: this.httpApi.api,
      syncs: [{ integration: 'postgres', fn: this.postgresSyncFunction }],
      alarmTopicArn: props.alarmTopicArn,
    });

    new CfnOutput(this, 'ApiUrl', { value: this.httpApi.url, description: 'Base URL of the HTTP API' });
    new CfnOutput(this, 'ControlTableName', { value: control.tableName });
    new CfnOutput(this, 'UsersTableName', { value: users.tableName });
    new CfnOutput(this, 'EventsTableName', { value: events.tableName });
    new CfnOutput(this, 'DataBucketName', { value: bucket.bucketName });
    new CfnOutput(this, 'ScheduleGroupName', { value: this.scheduling.scheduleGroupName });
    new CfnOutput(this, 'DashboardName', { value: this.monitoring.dashboard.dashboardName, description: 'CloudWatch dashboard of the API, functions, rows and runs' });
    if (egressIp) {
      new CfnOutput(this, 'SyncEgressIp', {
        value: egressIp.attrPublicIp,
        description: 'The address syncs connect from: allowlist it in the tenant database firewall',
      });
    }
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
    for (const fn of [this.apiFunction, this.csvImportFunction, this.exportFunction, this.postgresSyncFunction]) {
      for (const table of indexedTables) {
        acknowledge(fn, `AwsSolutions::AwsSolutions-IAM5[Resource::${nagArn(table)}/index/*]`, 'The indexes of this one table (listing users by shard, events by type and day); no other table.');
      }
    }
    acknowledge(this.apiFunction, `AwsSolutions::AwsSolutions-IAM5[Resource::${nagArn(this.exportFunction)}:*]`, 'Lambda.grantInvoke also covers the versions and aliases of this one function (the export function).');
    acknowledge(this.apiFunction, `AwsSolutions::AwsSolutions-IAM5[Resource::${nagArn(this.postgresSyncFunction)}:*]`, 'Lambda.grantInvoke also covers the versions and aliases of this one function (the PostgreSQL sync).');
    acknowledge(this.scheduling.role, `AwsSolutions::AwsSolutions-IAM5[Resource::${nagArn(this.postgresSyncFunction)}:*]`, 'The schedules may invoke the PostgreSQL sync function (its versions and aliases included) and nothing else.');
    const secrets = 'arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:roster/*/postgres*';
    const secretReason = 'One secret per tenant, roster/<tenant>/postgres (plus the random suffix Secrets Manager appends): the tenant segment must be a wildcard, the integration segment is fixed.';
    acknowledge(this.apiFunction, `AwsSolutions::AwsSolutions-IAM5[Resource::${secrets}]`, secretReason);
    acknowledge(this.postgresSyncFunction, `AwsSolutions::AwsSolutions-IAM5[Resource::${secrets}]`, secretReason);
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
