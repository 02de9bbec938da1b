import { dynamoBatchTransport, dynamoDocumentClient, s3Client, schedulerClient, secretsManagerClient } from '../aws/clients.js';
import { DynamoIntegrationStore } from '../integrations/integration-store.js';
import { DynamoOAuthStateStore } from '../integrations/salesforce/oauth-state-store.js';
import { environmentSalesforceApp, secretSalesforceApp } from '../integrations/salesforce/salesforce-app.js';
import type { SalesforceOAuth } from '../integrations/salesforce/salesforce-oauth.js';
import { DynamoRefreshLease, TokenKeeper } from '../integrations/salesforce/salesforce-tokens.js';
import { TenantRateLimiter } from '../http/tenant-rate-limit.js';
import { EventBridgeSyncScheduler } from '../scheduling/eventbridge-sync-scheduler.js';
import { SecretsManagerSecretStore } from '../secrets/secrets-manager-secret-store.js';
import { DynamoExportSource } from '../exports/export-sources.js';
import { DynamoExportStore } from '../exports/export-store.js';
import { DynamoImportStore } from '../imports/import-store.js';
import { DynamoPropertyStore } from '../properties/dynamo-property-store.js';
import { PropertyRegistry } from '../properties/property-registry.js';
import { S3BlobStore } from '../storage/s3-blob-store.js';
import { DynamoTenantStore } from '../tenants/dynamo-tenant-store.js';
import { DynamoUserDirectory } from '../users/dynamo-user-directory.js';
import { DynamoUserStore } from '../users/dynamo-user-store.js';

/**
 * Factories that wire the domain's ports to their AWS adapters, once per process. A handler
 * calls them at module scope with its validated environment.
 */
type Tables = { CONTROL_TABLE: string };

export const tenantStore = (env: Tables) => new DynamoTenantStore(dynamoDocumentClient(), env.CONTROL_TABLE);

export const propertyStore = (env: Tables) => new DynamoPropertyStore(dynamoDocumentClient(), env.CONTROL_TABLE);

export const propertyRegistry = (env: Tables) => new PropertyRegistry(dynamoDocumentClient(), env.CONTROL_TABLE);

export const importStore = (env: Tables) => new DynamoImportStore(dynamoDocumentClient(), env.CONTROL_TABLE);

export const blobStore = (env: { DATA_BUCKET: string }) => new S3BlobStore(s3Client(), env.DATA_BUCKET);

export const userStore = (env: { USERS_TABLE: string; EVENTS_TABLE: string }, options: { concurrency?: number } = {}) =>
  new DynamoUserStore(dynamoBatchTransport(), { usersTable: env.USERS_TABLE, eventsTable: env.EVENTS_TABLE, ...options });

export const userDirectory = (env: { USERS_TABLE: string; EVENTS_TABLE: string }) =>
  new DynamoUserDirectory(dynamoDocumentClient(), dynamoBatchTransport(), { usersTable: env.USERS_TABLE, eventsTable: env.EVENTS_TABLE });

export const exportStore = (env: Tables) => new DynamoExportStore(dynamoDocumentClient(), env.CONTROL_TABLE);

export const exportSource = (env: { USERS_TABLE: string; EVENTS_TABLE: string }) =>
  new DynamoExportSource(dynamoDocumentClient(), { usersTable: env.USERS_TABLE, eventsTable: env.EVENTS_TABLE });

export const integrationStore = (env: Tables) => new DynamoIntegrationStore(dynamoDocumentClient(), env.CONTROL_TABLE);

export const secretStore = () => new SecretsManagerSecretStore(secretsManagerClient());

export const syncScheduler = (env: { SCHEDULE_GROUP: string; POSTGRES_SYNC_FUNCTION_ARN: string; SCHEDULER_ROLE_ARN: string; SCHEDULER_DLQ_ARN?: string }) =>
  new EventBridgeSyncScheduler(schedulerClient(), {
    groupName: env.SCHEDULE_GROUP,
    functionArn: env.POSTGRES_SYNC_FUNCTION_ARN,
    roleArn: env.SCHEDULER_ROLE_ARN,
    deadLetterArn: env.SCHEDULER_DLQ_ARN,
  });

export const oauthStateStore = (env: Tables) => new DynamoOAuthStateStore(dynamoDocumentClient(), env.CONTROL_TABLE);

/** The connected app's credentials: the platform secret when one is named (deployed), else the local variables. */
export const salesforceApp = (env: { SALESFORCE_APP_SECRET_NAME?: string; SALESFORCE_CLIENT_ID?: string; SALESFORCE_CLIENT_SECRET?: string }) =>
  env.SALESFORCE_APP_SECRET_NAME ? secretSalesforceApp(secretStore(), env.SALESFORCE_APP_SECRET_NAME) : environmentSalesforceApp(env);

/** A tenant's token keeper: refreshes serialised by a lease in the control table, an `invalid_grant` marks the integration disconnected. */
export const salesforceTokens = (env: Tables, oauth: SalesforceOAuth) => {
  const integrations = integrationStore(env);
  const lease = new DynamoRefreshLease(dynamoDocumentClient(), env.CONTROL_TABLE);
  const secrets = secretStore();
  return (tenantId: string) =>
    new TokenKeeper(
      { secrets, lease, refresher: oauth, markDisconnected: (reason) => integrations.markDisconnected(tenantId, 'salesforce', reason, new Date().toISOString()) },
      tenantId,
    );
};

export const tenantRateLimiter = (env: Tables) => new TenantRateLimiter(dynamoDocumentClient(), env.CONTROL_TABLE);
