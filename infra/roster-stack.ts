import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { LambdaDestination } from 'aws-cdk-lib/aws-s3-notifications';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import {
  apiEnvironment,
  authorizerEnvironment,
  csvImportEnvironment,
  exportEnvironment,
} from '../shared/config/function-environments.js';
import { allApiRoutes } from '../shared/http/api-contract.js';
import { HttpApi } from './constructs/http-api.js';
import { RosterFunction } from './constructs/roster-function.js';
import { bucketPrefixes, Storage } from './constructs/storage.js';
import { SyncScheduling } from './constructs/sync-scheduling.js';

export interface RosterStackProps extends StackProps {
  /** Deployment stage (e.g. `dev`, `prod`); tagged on every resource. */
  stage?: string;
  /** Origins allowed by CORS (API and bucket). Default `['*']`. */
  corsOrigins?: string[];
  /** SNS topic for alarms (wired by a later issue). */
  alarmTopicArn?: string;
  /** Reserved concurrency of the CSV importer. Default 20. */
  csvImportConcurrency?: number;
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
      },
      memorySize: 1024,
      timeout: Duration.seconds(29),
    });
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

    this.scheduling = new SyncScheduling(this, 'SyncScheduling');

    new CfnOutput(this, 'ApiUrl', { value: this.httpApi.url, description: 'Base URL of the HTTP API' });
    new CfnOutput(this, 'ControlTableName', { value: control.tableName });
    new CfnOutput(this, 'UsersTableName', { value: users.tableName });
    new CfnOutput(this, 'EventsTableName', { value: events.tableName });
    new CfnOutput(this, 'DataBucketName', { value: bucket.bucketName });
    new CfnOutput(this, 'ScheduleGroupName', { value: this.scheduling.scheduleGroupName });
  }

  /** Where a function's failed asynchronous events go: encrypted, TLS only, kept 14 days. */
  private deadLetterQueue(id: string): sqs.Queue {
    return new sqs.Queue(this, id, { encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true, retentionPeriod: Duration.days(14) });
  }
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
