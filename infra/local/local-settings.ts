import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { controlTable, eventsTable, localTableName, usersTable } from '../../shared/storage/table-definitions.js';

/** Names and endpoints of the local stack. The stand-ins accept any credentials. */
export const LOCAL_REGION = 'us-east-1';
// s3rver accepts only this key pair (it does not check signatures); DynamoDB Local accepts any.
export const localCredentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
export const LOCAL_BUCKET = 'roster-data';
/** The schedule group of the local stack (deployed: `<stackName>-syncs`). */
export const LOCAL_SCHEDULE_GROUP = 'roster-syncs';
/** Function names of the local stack (its Lambda Invoke endpoint and the scheduler use them). */
export const LOCAL_FUNCTIONS = { csvImport: 'roster-csv-import', export: 'roster-export', postgresSync: 'roster-postgres-sync', salesforceSync: 'roster-salesforce-sync' } as const;
/** What the API function needs to start syncs and manage schedules on the local stand-ins (the scheduler invokes by the ARN's function name). */
export const localSyncEnvironment = {
  POSTGRES_SYNC_FUNCTION_NAME: LOCAL_FUNCTIONS.postgresSync,
  POSTGRES_SYNC_FUNCTION_ARN: `arn:aws:lambda:${LOCAL_REGION}:000000000000:function:${LOCAL_FUNCTIONS.postgresSync}`,
  SALESFORCE_SYNC_FUNCTION_NAME: LOCAL_FUNCTIONS.salesforceSync,
  SALESFORCE_SYNC_FUNCTION_ARN: `arn:aws:lambda:${LOCAL_REGION}:000000000000:function:${LOCAL_FUNCTIONS.salesforceSync}`,
  SCHEDULE_GROUP: LOCAL_SCHEDULE_GROUP,
  SCHEDULER_ROLE_ARN: 'arn:aws:iam::000000000000:role/roster-local-scheduler',
};
export const localTables = {
  CONTROL_TABLE: localTableName(controlTable),
  USERS_TABLE: localTableName(usersTable),
  EVENTS_TABLE: localTableName(eventsTable),
};

export interface LocalEndpoints {
  api: string;
  dynamodb: string;
  s3: string;
  secretsManager: string;
  scheduler: string;
  lambda: string;
  tables: typeof localTables;
  bucket: string;
  pid: number;
}

export const dataDirectory = (env: NodeJS.ProcessEnv = process.env) => resolve(env.ROSTER_DATA_DIR || '.roster');

const endpointsFile = (dataDir: string) => join(dataDir, 'endpoints.json');

/** The running local stack publishes its endpoints here, so the operator CLI can find it. */
export function writeEndpoints(dataDir: string, endpoints: LocalEndpoints): void {
  mkdirSync(dataDir, { recursive: true });
  const file = endpointsFile(dataDir);
  writeFileSync(`${file}.tmp`, JSON.stringify(endpoints, null, 2));
  renameSync(`${file}.tmp`, file);
}

export function readEndpoints(dataDir: string): LocalEndpoints | undefined {
  const file = endpointsFile(dataDir);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as LocalEndpoints;
}

/** The SDK variables that point every client of this process at the local stand-ins. */
export function sdkEnvironment(endpoints: Pick<LocalEndpoints, 'dynamodb' | 's3' | 'secretsManager' | 'scheduler'> & { lambda?: string }) {
  return {
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: localCredentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: localCredentials.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    AWS_ENDPOINT_URL_S3: endpoints.s3,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoints.secretsManager,
    AWS_ENDPOINT_URL_SCHEDULER: endpoints.scheduler,
    ...(endpoints.lambda ? { AWS_ENDPOINT_URL_LAMBDA: endpoints.lambda } : {}),
  };
}
