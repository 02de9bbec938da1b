import type { Context } from 'aws-lambda';
import { lambdaClient } from '../../shared/aws/clients.js';
import { lambdaLauncher } from '../../shared/aws/lambda-launcher.js';
import { loadEnvironment, salesforceSyncEnvironment } from '../../shared/config/function-environments.js';
import { SalesforceOAuth } from '../../shared/integrations/salesforce/salesforce-oauth.js';
import { runSalesforceSync, type SalesforceSyncInvocation, type SalesforceSyncResult } from '../../shared/integrations/salesforce/salesforce-sync-run.js';
import { isSyncInvocationOf } from '../../shared/integrations/sync-run-lifecycle.js';
import { logger } from '../../shared/logging/logger.js';
import { flushMetrics } from '../../shared/observability/metrics.js';
import { exportSource, integrationStore, propertyRegistry, salesforceApp, salesforceTokens, userStore } from '../../shared/wiring/stores.js';

const env = loadEnvironment(salesforceSyncEnvironment);
const dependencies = {
  integrations: integrationStore(env),
  users: userStore(env),
  registry: propertyRegistry(env),
  exportSource: exportSource(env),
  tokens: salesforceTokens(env, new SalesforceOAuth(salesforceApp(env))),
};

const isSyncInvocation = isSyncInvocationOf('salesforce-sync');

/**
 * The Salesforce sync function. Invoked asynchronously by a tenant's schedule
 * (`{kind, tenantId, trigger: "schedule"}`: it starts the run), by "run now" (`runId` of the
 * run the API started), or by itself near its time limit (`runId` and the lease it hands over).
 */
export async function handleSalesforceSync(event: unknown, context: Context): Promise<SalesforceSyncResult> {
  if (!isSyncInvocation(event)) {
    logger.warn('salesforce sync invocation refused: not a salesforce-sync request');
    return 'ignored';
  }
  logger.appendKeys({ tenantId: event.tenantId });
  try {
    const continueLater = lambdaLauncher<SalesforceSyncInvocation>(lambdaClient(), context.functionName);
    return await runSalesforceSync({ ...dependencies, continueLater }, event, () => context.getRemainingTimeInMillis());
  } finally {
    logger.removeKeys(['tenantId']);
    flushMetrics();
  }
}

export const handler = handleSalesforceSync;
