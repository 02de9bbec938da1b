import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { ApiEvent } from '../../functions/api/api-event.js';

/** Builds an API Gateway HTTP API (payload v2) event as the gateway hands it to the API function. */
export function apiEvent(options: {
  method: string;
  path: string;
  routePath?: string;
  tenantId?: string;
  query?: Record<string, string>;
  pathParameters?: Record<string, string>;
  body?: unknown;
  headers?: Record<string, string>;
}): ApiEvent {
  const routeKey = `${options.method} ${options.routePath ?? options.path}`;
  const now = new Date();
  return {
    version: '2.0',
    routeKey,
    rawPath: options.path,
    rawQueryString: new URLSearchParams(options.query ?? {}).toString(),
    headers: { host: 'api.example.test', 'content-type': 'application/json', ...options.headers },
    ...(options.query ? { queryStringParameters: options.query } : {}),
    ...(options.pathParameters ? { pathParameters: options.pathParameters } : {}),
    ...(options.body === undefined ? {} : { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) }),
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'test',
      domainName: 'api.example.test',
      domainPrefix: 'api',
      http: { method: options.method, path: options.path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'vitest' },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
      authorizer: { principalId: '', integrationLatency: 0, lambda: options.tenantId ? { tenantId: options.tenantId, keyId: 'k' } : (undefined as never) },
    },
  } as ApiEvent;
}

export function jsonBody(result: APIGatewayProxyStructuredResultV2 | undefined): any {
  return result?.body ? JSON.parse(result.body) : undefined;
}
