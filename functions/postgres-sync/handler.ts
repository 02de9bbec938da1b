import type { Context } from 'aws-lambda';
import { lambdaClient } from '../../shared/aws/clients.js';
import { lambdaLauncher } from '../../shared/aws/lambda-launcher.js';
import { loadEnvironment, postgresSyncEnvironment } from '../../shared/config/function-environments.js';
import { runPostgresSync, type PostgresSyncInvocation, type PostgresSyncResult } from '../../shared/integrations/postgres/postgres-sync-run.js';
import { defaultSessionLimits } from '../../shared/integrations/postgres/session-limits.js';
import { isSyncInvocationOf } from '../../shared/integrations/sync-run-lifecycle.js';
import { logger } from '../../shared/logging/logger.js';
import { flushMetrics } from '../../shared/observability/metrics.js';
import { integrationStore, propertyRegistry, secretStore, userStore } from '../../shared/wiring/stores.js';

const env = loadEnvironment(postgresSyncEnvironment);
const dependencies = {
  integrations: integrationStore(env),
  secrets: secretStore(),
  users: userStore(env),
  registry: propertyRegistry(env),
  // PostgreSQL runs statement_timeout from a portal's first Execute until it completes, so
  // it bounds the whole read of an invocation (the sort before the first row included), not
  // one FETCH: 14 minutes, within the function's 15. The run stops reading 2 minutes before
  // the end and continues in a new invocation, whose cursor starts a fresh timeout.
  sessionLimits: { ...defaultSessionLimits, allowPrivateHosts: env.ROSTER_ALLOW_PRIVATE_HOSTS, statementTimeoutMs: 14 * 60_000 },
};

const isSyncInvocation = isSyncInvocationOf('postgres-sync');

/**
 * The PostgreSQL sync function. Invoked asynchronously by a tenant's schedule
 * (`{kind, tenantId, trigger: "schedule"}`: it starts the run), by "run now" (`runId` of the
 * run the API started), or by itself near its time limit (`runId` and the lease it hands over).
 */
export async function handlePostgresSync(event: unknown, context: Context): Promise<PostgresSyncResult> {
  if (!isSyncInvocation(event)) {
    logger.warn('postgres sync invocation refused: not a postgres-sync request');
    return 'ignored';
  }
  logger.appendKeys({ tenantId: event.tenantId });
  try {
    const continueLater = lambdaLauncher<PostgresSyncInvocation>(lambdaClient(), context.functionName);
    return await runPostgresSync({ ...dependencies, continueLater }, event, () => context.getRemainingTimeInMillis());
  } finally {
    logger.removeKeys(['tenantId']);
    flushMetrics();
  }
}

export const handler = handlePostgresSync;
