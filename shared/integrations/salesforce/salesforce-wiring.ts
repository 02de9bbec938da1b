import { lambdaClient } from '../../aws/clients.js';
import { lambdaLauncher } from '../../aws/lambda-launcher.js';
import { integrationStore, oauthStateStore, salesforceApp, salesforceTokens, secretStore, syncScheduler } from '../../wiring/stores.js';
import { SalesforceOAuth } from './salesforce-oauth.js';
import type { SalesforceServiceDependencies } from './salesforce-integration-service.js';
import type { SalesforceSyncInvocation } from './salesforce-sync-run.js';

/**
 * The API function's Salesforce side, wired once per process on the first Salesforce
 * request (this module and jsforce are imported lazily, so other routes never load them).
 */
export interface SalesforceApiEnvironment {
  CONTROL_TABLE: string;
  SCHEDULE_GROUP: string;
  POSTGRES_SYNC_FUNCTION_ARN: string;
  SCHEDULER_ROLE_ARN: string;
  SCHEDULER_DLQ_ARN?: string;
  SALESFORCE_SYNC_FUNCTION_NAME: string;
  SALESFORCE_SYNC_FUNCTION_ARN: string;
  SALESFORCE_APP_SECRET_NAME?: string;
  SALESFORCE_CLIENT_ID?: string;
  SALESFORCE_CLIENT_SECRET?: string;
  ROSTER_ALLOW_PRIVATE_HOSTS: boolean;
}

let wired: SalesforceServiceDependencies | undefined;

export function salesforceServiceDependencies(env: SalesforceApiEnvironment): SalesforceServiceDependencies {
  if (wired) return wired;
  const oauth = new SalesforceOAuth(salesforceApp(env));
  wired = {
    integrations: integrationStore(env),
    secrets: secretStore(),
    scheduler: syncScheduler(env),
    states: oauthStateStore(env),
    oauth,
    tokens: salesforceTokens(env, oauth),
    allowPrivateHosts: env.ROSTER_ALLOW_PRIVATE_HOSTS,
    launch: (invocation: SalesforceSyncInvocation) => lambdaLauncher<SalesforceSyncInvocation>(lambdaClient(), env.SALESFORCE_SYNC_FUNCTION_NAME)(invocation),
    syncFunctionArn: env.SALESFORCE_SYNC_FUNCTION_ARN,
  };
  return wired;
}

export {
  CallbackRefusedError,
  completeSalesforceConnect,
  connectSalesforce,
  deleteSalesforceIntegration,
  describeSalesforceObject,
  getSalesforceIntegration,
  listSalesforceObjects,
  putSalesforceIntegration,
  startSalesforceRun,
} from './salesforce-integration-service.js';
export { callbackPage } from './callback-page.js';
