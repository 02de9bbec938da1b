import { join } from 'node:path';
import type { Server } from 'node:http';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { ConflictException, CreateScheduleGroupCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import type { S3Event } from 'aws-lambda';
import { allApiRoutes } from '../../shared/http/api-contract.js';
import { localTableName } from '../../shared/storage/table-definitions.js';
import { startApiGatewayEmulator } from './api-gateway-emulator.js';
import { startDynamoDbLocal } from './dynamodb-local.js';
import { LAMBDA_RETRY_DELAYS_MS, LocalLambda } from './lambda-emulator.js';
import { freePort } from './free-port.js';
import { LOCAL_BUCKET, LOCAL_FUNCTIONS, LOCAL_REGION, LOCAL_SCHEDULE_GROUP, localCredentials, localSyncEnvironment, localTables, sdkEnvironment, writeEndpoints, type LocalEndpoints } from './local-settings.js';
import { ensureBucket, ensureTables } from './provision.js';
import { startS3Local } from './s3-local.js';
import { startLocalScheduler } from './scheduler-emulator.js';
import { startLocalSecretsManager } from './secrets-manager-emulator.js';

export interface LocalStackOptions {
  /** Where DynamoDB Local, s3rver, secrets and schedules keep their data across restarts. */
  dataDir: string;
  port: number;
  host?: string;
  corsOrigins?: string;
  log?: (message: string) => void;
}

export interface RunningLocalStack {
  endpoints: LocalEndpoints;
  stop(): Promise<void>;
}

/**
 * The whole system on one machine: DynamoDB Local and s3rver persisted under `dataDir`, the
 * local Secrets Manager and Scheduler endpoints, and an HTTP server that runs the same
 * authorizer and API function the cloud runs. An upload to the bucket invokes the CSV
 * importer with the S3 event it receives in AWS. The handlers are the deployed code, loaded
 * after this process's SDK variables point at the stand-ins.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<RunningLocalStack> {
  const log = options.log ?? ((message: string) => console.log(message));
  const host = options.host ?? '127.0.0.1';
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const stopOne of stops.reverse()) await stopOne().catch((error: unknown) => log(`stop failed: ${String(error)}`));
  };
  try {
    const dynamo = await startDynamoDbLocal({ port: await freePort(), dbPath: join(options.dataDir, 'dynamodb') });
    stops.push(dynamo.stop);

    // The functions, invocable by name through the local Lambda Invoke endpoint.
    // Unfinished asynchronous invocations survive a kill of this process and run again at the next start.
    const lambda = new LocalLambda(log, localRetryDelays(), join(options.dataDir, 'lambda-pending.json'));
    const functions = await lambda.listen(host);
    stops.push(() => closeServer(functions.server));

    // In AWS, S3 invokes the importer asynchronously; so does the local stack.
    const s3 = await startS3Local({
      port: await freePort(),
      directory: join(options.dataDir, 's3'),
      onObjectCreated: (event: S3Event) => lambda.invokeAsync(LOCAL_FUNCTIONS.csvImport, event),
    });
    stops.push(s3.stop);

    const secrets = await startLocalSecretsManager({ host, port: 0, persistFile: join(options.dataDir, 'secrets.json') });
    stops.push(secrets.close);

    const scheduler = await startLocalScheduler({
      host,
      port: 0,
      persistFile: join(options.dataDir, 'schedules.json'),
      invoke: async ({ arn, input, scheduleName }) => {
        const functionName = arn.split(':').pop() ?? arn;
        if (!lambda.invokeAsync(functionName, input ? JSON.parse(input) : {})) {
          log(`schedule ${scheduleName} fired, but no local function is named ${functionName}`);
        }
      },
    });
    stops.push(scheduler.close);
    const schedulerClient = new SchedulerClient({ endpoint: scheduler.endpoint, region: LOCAL_REGION, credentials: localCredentials });
    await schedulerClient.send(new CreateScheduleGroupCommand({ Name: LOCAL_SCHEDULE_GROUP })).catch((error: unknown) => {
      if (!(error instanceof ConflictException)) throw error;
    });
    schedulerClient.destroy();

    Object.assign(process.env, sdkEnvironment({ dynamodb: dynamo.endpoint, s3: s3.endpoint, secretsManager: secrets.endpoint, scheduler: scheduler.endpoint, lambda: functions.endpoint }), {
      ...localTables,
      DATA_BUCKET: LOCAL_BUCKET,
      EXPORT_FUNCTION_NAME: LOCAL_FUNCTIONS.export,
      ...localSyncEnvironment,
      CORS_ORIGINS: options.corsOrigins ?? process.env.CORS_ORIGINS ?? '*',
      ROSTER_ALLOW_PRIVATE_HOSTS: process.env.ROSTER_ALLOW_PRIVATE_HOSTS ?? 'true',
    });

    const dynamoClient = new DynamoDBClient({ endpoint: dynamo.endpoint, region: LOCAL_REGION, credentials: localCredentials });
    const s3Client = new S3Client({ endpoint: s3.endpoint, region: LOCAL_REGION, credentials: localCredentials, forcePathStyle: true });
    await ensureTables(dynamoClient, (definition) => localTableName(definition));
    await ensureBucket(s3Client, LOCAL_BUCKET);
    dynamoClient.destroy();
    s3Client.destroy();

    const [{ handler: api }, { handler: authorizer }, { handler: csvImport }, { handler: exportJob }, { handler: postgresSync }, { handler: salesforceSync }] = await Promise.all([
      import('../../functions/api/handler.js'),
      import('../../functions/authorizer/handler.js'),
      import('../../functions/csv-import/handler.js'),
      import('../../functions/export/handler.js'),
      import('../../functions/postgres-sync/handler.js'),
      import('../../functions/salesforce-sync/handler.js'),
    ]);

    // Retries as the stack's EventInvokeConfig sets them (2), after Lambda's delays.
    lambda.register(LOCAL_FUNCTIONS.csvImport, { handler: (event, context) => csvImport(event as never, context), timeoutMs: 15 * 60_000, retryAttempts: 2 });
    lambda.register(LOCAL_FUNCTIONS.export, { handler: (event, context) => exportJob(event, context), timeoutMs: 15 * 60_000, retryAttempts: 2 });
    lambda.register(LOCAL_FUNCTIONS.postgresSync, { handler: (event, context) => postgresSync(event, context), timeoutMs: 15 * 60_000, retryAttempts: 2 });
    lambda.register(LOCAL_FUNCTIONS.salesforceSync, { handler: (event, context) => salesforceSync(event, context), timeoutMs: 15 * 60_000, retryAttempts: 2 });

    lambda.resumePending();

    const gateway = await startApiGatewayEmulator({
      host,
      port: options.port,
      routes: allApiRoutes,
      api: (event, context) => api(event as never, context),
      authorizer: (event) => authorizer(event),
      corsOrigins: (process.env.CORS_ORIGINS ?? '*').split(',').map((origin) => origin.trim()),
    });
    stops.push(() => closeServer(gateway.server));

    const endpoints: LocalEndpoints = {
      api: gateway.url,
      dynamodb: dynamo.endpoint,
      s3: s3.endpoint,
      secretsManager: secrets.endpoint,
      scheduler: scheduler.endpoint,
      lambda: functions.endpoint,
      tables: localTables,
      bucket: LOCAL_BUCKET,
      pid: process.pid,
    };
    writeEndpoints(options.dataDir, endpoints);
    return { endpoints, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Lambda's retry delays, or `ROSTER_LOCAL_RETRY_DELAYS_MS` (comma-separated ms) to try failures faster locally. */
function localRetryDelays(): number[] {
  const given = process.env.ROSTER_LOCAL_RETRY_DELAYS_MS?.split(',').map((value) => Number(value.trim()));
  return given && given.length > 0 && given.every((value) => Number.isInteger(value) && value >= 0) ? given : LAMBDA_RETRY_DELAYS_MS;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
