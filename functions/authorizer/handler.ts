import type { APIGatewayRequestAuthorizerEventV2, APIGatewaySimpleAuthorizerWithContextResult } from 'aws-lambda';
import { authorizerEnvironment, loadEnvironment } from '../../shared/config/function-environments.js';
import { logger } from '../../shared/logging/logger.js';
import { cachedAuthenticator } from '../../shared/tenants/api-key-cache.js';
import { authenticate } from '../../shared/tenants/tenant-service.js';
import { tenantStore } from '../../shared/wiring/stores.js';
import type { AuthorizerContext } from '../api/api-event.js';

const env = loadEnvironment(authorizerEnvironment);
const tenants = tenantStore(env);
const identify = cachedAuthenticator((header) => authenticate(tenants, header), { ttlSeconds: env.API_KEY_CACHE_SECONDS });

/**
 * HTTP API Lambda authorizer (REQUEST type, simple responses, no identity source, so API
 * Gateway calls it for every request): maps the API key in `Authorization: Bearer <key>` to
 * its tenant, which reaches the API function only through this context.
 *
 * It never refuses. A missing or bad key reaches the API function as `refusal`, and the
 * function answers 401 in the API's error format: API Gateway's own refusals are a bare
 * `{"message":"Unauthorized"}` that HTTP APIs cannot reshape. Every authenticated route checks
 * the tenant context (`bindRoute`), so a request without a tenant reaches no data.
 */
export async function authorize(
  event: Pick<APIGatewayRequestAuthorizerEventV2, 'headers' | 'requestContext'>,
): Promise<APIGatewaySimpleAuthorizerWithContextResult<AuthorizerContext>> {
  const header = event.headers?.authorization ?? event.headers?.Authorization;
  const identity = await identify(header);
  if (!identity) {
    if (header) logger.info('api key refused', { requestId: event.requestContext?.requestId });
    return { isAuthorized: true, context: { tenantId: '', keyId: '', refusal: header ? 'invalid' : 'missing' } };
  }
  return { isAuthorized: true, context: { tenantId: identity.tenantId, keyId: identity.keyId, refusal: '' } };
}

export const handler = authorize;
