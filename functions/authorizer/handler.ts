import type { APIGatewayRequestAuthorizerEventV2, APIGatewaySimpleAuthorizerWithContextResult } from 'aws-lambda';
import { authorizerEnvironment, loadEnvironment } from '../../shared/config/function-environments.js';
import { logger } from '../../shared/logging/logger.js';
import { authenticate } from '../../shared/tenants/tenant-service.js';
import { tenantStore } from '../../shared/wiring/stores.js';
import type { AuthorizerContext } from '../api/api-event.js';

const env = loadEnvironment(authorizerEnvironment);
const tenants = tenantStore(env);

/**
 * HTTP API Lambda authorizer (REQUEST type, simple responses): maps the API key in
 * `Authorization: Bearer <key>` to its tenant, which reaches the API function only through
 * this context. An unknown, malformed or revoked key throws `Unauthorized`, the one error
 * API Gateway turns into a 401 (a plain `isAuthorized: false` would be a 403).
 */
export async function authorize(
  event: Pick<APIGatewayRequestAuthorizerEventV2, 'headers' | 'requestContext'>,
): Promise<APIGatewaySimpleAuthorizerWithContextResult<AuthorizerContext>> {
  const header = event.headers?.authorization ?? event.headers?.Authorization;
  const identity = await authenticate(tenants, header);
  if (!identity) {
    logger.info('api key refused', { requestId: event.requestContext?.requestId });
    throw new Error('Unauthorized');
  }
  return { isAuthorized: true, context: { tenantId: identity.tenantId, keyId: identity.keyId } };
}

export const handler = authorize;
