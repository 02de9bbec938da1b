import middy from '@middy/core';
import httpCors from '@middy/http-cors';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import httpRouterHandler from '@middy/http-router';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { apiEnvironment, loadEnvironment } from '../../shared/config/function-environments.js';
import { allApiRoutes, apiRoutes } from '../../shared/http/api-contract.js';
import { buildOpenApiDocument } from '../../shared/http/openapi-document.js';
import { logger } from '../../shared/logging/logger.js';
import { createImport, getImport, listImports } from '../../shared/imports/import-service.js';
import { blobStore, importStore, propertyRegistry, propertyStore } from '../../shared/wiring/stores.js';
import type { ApiEvent, ApiResult } from './api-event.js';
import { httpErrorHandler } from './http-error-handler.js';
import { bindRoute } from './route-binding.js';

const env = loadEnvironment(apiEnvironment);
const properties = propertyStore(env);
const registry = propertyRegistry(env);
const imports = { imports: importStore(env), blobs: blobStore(env), maxUploadBytes: env.MAX_UPLOAD_BYTES };
let openApiDocument: unknown;

export const routes = [
  bindRoute(apiRoutes.health, async () => ({ status: 200, body: { status: 'ok' } })),
  bindRoute(apiRoutes.openapi, async ({ event }) => {
    openApiDocument ??= buildOpenApiDocument(allApiRoutes, {
      version: '0.1.0',
      serverUrl: event.headers?.host ? `https://${event.headers.host}` : undefined,
    });
    return { status: 200, body: openApiDocument };
  }),
  bindRoute(apiRoutes.listProperties, async ({ tenantId, query }) => ({
    status: 200,
    body: await properties.list(tenantId, query.limit, query.cursor),
  })),
  bindRoute(apiRoutes.defineProperty, async ({ tenantId, body }) => {
    const { created, property } = await registry.define(tenantId, body.name, body.type);
    const { name, type, source, createdAt } = property;
    return { status: created ? 201 : 200, body: { name, type, source, createdAt } };
  }),
  bindRoute(apiRoutes.createImport, async ({ tenantId, body }) => createImport(imports, tenantId, body)),
  bindRoute(apiRoutes.listImports, async ({ tenantId, query }) => ({
    status: 200,
    body: await listImports(imports, tenantId, query.limit, query.cursor),
  })),
  bindRoute(apiRoutes.getImport, async ({ tenantId, params }) => ({
    status: 200,
    body: await getImport(imports, tenantId, params.importId),
  })),
];

const origins = env.CORS_ORIGINS.split(',').map((origin) => origin.trim());

/** The API function: one middy router over every route of the HTTP API. */
export const handler = middy<ApiEvent, ApiResult>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(httpHeaderNormalizer())
  .use(httpCors({ origins, headers: 'authorization,content-type', methods: 'GET,POST,PUT,PATCH,DELETE,OPTIONS' }))
  .use(httpErrorHandler())
  .handler(httpRouterHandler<ApiEvent, ApiResult>(routes));
