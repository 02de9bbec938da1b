import type { Context } from 'aws-lambda';
import { lambdaClient } from '../../shared/aws/clients.js';
import { lambdaLauncher } from '../../shared/aws/lambda-launcher.js';
import { loadEnvironment, postgresSyncEnvironment } from '../../shared/config/function-environments.js';
import { runPostgresSync, type PostgresSyncInvocation, type PostgresSyncResult } from '../../shared/integrations/postgres/postgres-sync-run.js';
import { defaultSessionLimits } from '../../shared/integrations/postgres/session-limits.js';
import { logger } from '../../shared/logging/logger.js';
import { flushMetrics } from '../../shared/observability/metrics.js';
import { integrationStore, propertyRegistry, secretStore, userStore } from '../../shared/wiring/stores.js';

const env = loadEnvironment(postgresSyncEnvironment);
const dependencies = {
  integrations: integrationStore(env),
  secrets: secretStore(),
  users: userStore(env),
  registry: propertyRegistry(env),
  // The first FETCH waits for the server to sort the whole result (tens of millions of rows
  // take minutes): 10 of the function's 15 minutes; a continuation re-sorts only what is left.
  sessionLimits: { ...defaultSessionLimits, allowPrivateHosts: env.ROSTER_ALLOW_PRIVATE_HOSTS, statementTimeoutMs: 10 * 60_000 },
};

const TENANT_ID = /^[a-z0-9-]{3,40}$/;

const isSyncInvocation = (event: unknown): event is PostgresSyncInvocation => {
  const candidate = event as Partial<PostgresSyncInvocation> | undefined;
  return (
    candidate?.kind === 'postgres-sync' &&
    typeof candidate.tenantId === 'string' &&
    TENANT_ID.test(candidate.tenantId) &&
    (candidate.runId === undefined || typeof candidate.runId === 'string') &&
    (candidate.leaseId === undefined || typeof candidate.leaseId === 'string')
  );
};

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
