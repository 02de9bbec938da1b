import { Logger } from '@aws-lambda-powertools/logger';
import { processSingleton } from '../runtime/process-singleton.js';

/**
 * The one logger of the process (Powertools: structured JSON with the Lambda request ID).
 * Request handlers append `tenantId` for the duration of a request (`withTenant`), so every
 * line written while serving a tenant names it. Never log secrets or personal data.
 */
export const logger = processSingleton(
  'logger',
  () =>
    new Logger({
      serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'roster',
      logLevel: (process.env.POWERTOOLS_LOG_LEVEL ?? process.env.LOG_LEVEL ?? 'INFO') as 'INFO',
    }),
);

/** Adds the tenant ID to every log line until `clearTenant` (or the next request's reset). */
export function appendTenant(tenantId: string): void {
  logger.appendKeys({ tenantId });
}

export function clearTenant(): void {
  logger.removeKeys(['tenantId']);
}
