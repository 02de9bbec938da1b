import type { Context } from 'aws-lambda';
import { lambdaClient } from '../../shared/aws/clients.js';
import { exportEnvironment, loadEnvironment } from '../../shared/config/function-environments.js';
import { runExport, type ExportInvocation, type ExportRunResult } from '../../shared/exports/export-run.js';
import { lambdaExportLauncher } from '../../shared/exports/lambda-export-launcher.js';
import { logger } from '../../shared/logging/logger.js';
import { flushMetrics } from '../../shared/observability/metrics.js';
import { blobStore, exportSource, exportStore, propertyRegistry, userStore } from '../../shared/wiring/stores.js';

const env = loadEnvironment(exportEnvironment);
const dependencies = {
  exports: exportStore(env),
  source: exportSource(env),
  users: userStore(env),
  registry: propertyRegistry(env),
  blobs: blobStore(env),
};

const isExportInvocation = (event: unknown): event is ExportInvocation => {
  const candidate = event as Partial<ExportInvocation> | undefined;
  return candidate?.kind === 'export' && typeof candidate.tenantId === 'string' && typeof candidate.exportId === 'string';
};

/**
 * The export function: `POST /exports` invokes it asynchronously with `{kind, tenantId, exportId}`;
 * near its time limit it invokes itself with the lease it hands over.
 */
export async function handleExportInvocation(event: unknown, context: Context): Promise<ExportRunResult> {
  if (!isExportInvocation(event)) {
    logger.warn('export invocation refused: not an export request');
    return 'ignored';
  }
  logger.appendKeys({ tenantId: event.tenantId });
  try {
    const continueLater = lambdaExportLauncher(lambdaClient(), context.functionName);
    return await runExport({ ...dependencies, continueLater }, event, () => context.getRemainingTimeInMillis());
  } finally {
    logger.removeKeys(['tenantId']);
    flushMetrics();
  }
}

export const handler = handleExportInvocation;
