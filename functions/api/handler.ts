import middy from '@middy/core';
import httpCors from '@middy/http-cors';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import httpRouterHandler from '@middy/http-router';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { apiEnvironment, loadEnvironment } from '../../shared/config/function-environments.js';
import { allApiRoutes, apiRoutes } from '../../shared/http/api-contract.js';
import { buildOpenApiDocument } from '../../shared/http/openapi-document.js';
import { logger } from '../../shared/logging/logger.js';
import { flushMetrics } from '../../shared/observability/metrics.js';
import { createImport, getImport, listImports } from '../../shared/imports/import-service.js';
import type { ExportInvocation } from '../../shared/exports/export-run.js';
import { createExport, getExport } from '../../shared/exports/export-service.js';
import { lambdaExportLauncher } from '../../shared/exports/lambda-export-launcher.js';
import { lambdaClient } from '../../shared/aws/clients.js';
import { ingestEvents, listUserEvents, type IncomingEvent } from '../../shared/events/event-service.js';
import { createUser, deleteUser, getUser, listUsers, patchUser } from '../../shared/users/user-service.js';
import { lambdaLauncher } from '../../shared/aws/lambda-launcher.js';
import type { IntegrationServiceDependencies } from '../../shared/integrations/postgres/postgres-integration-service.js';
import type { PostgresSyncInvocation } from '../../shared/integrations/postgres/postgres-sync-run.js';
import { defaultSessionLimits } from '../../shared/integrations/postgres/session-limits.js';
import {
  blobStore,
  exportStore,
  importStore,
  integrationStore,
  propertyRegistry,
  propertyStore,
  secretStore,
  syncScheduler,
  tenantRateLimiter,
  userDirectory,
  userStore,
} from '../../shared/wiring/stores.js';
import type { ApiEvent, ApiResult } from './api-event.js';
import type * as SalesforceModule from '../../shared/integrations/salesforce/salesforce-wiring.js';
import type * as PostgresModule from '../../shared/integrations/postgres/postgres-integration-service.js';
import { httpErrorHandler } from './http-error-handler.js';
import { bindRoute, type RouteReply } from './route-binding.js';
import type { RateLimitedGroup } from '../../shared/http/tenant-rate-limit.js';

const env = loadEnvironment(apiEnvironment);
/** A chunk built beside this bundle (`<name>.mjs`), by URL so the bundler leaves it alone. */
const lazyChunk = (name: string) => new URL(`./${name}.mjs`, import.meta.url).href;
const properties = propertyStore(env);
const registry = propertyRegistry(env);
const imports = { imports: importStore(env), blobs: blobStore(env), maxUploadBytes: env.MAX_UPLOAD_BYTES };
const exportJobs = {
  exports: exportStore(env),
  blobs: blobStore(env),
  registry,
  // The Lambda client is made on the first export, not at cold start.
  launch: (invocation: ExportInvocation) => lambdaExportLauncher(lambdaClient(), env.EXPORT_FUNCTION_NAME)(invocation),
};
const people = { users: userStore(env), directory: userDirectory(env), registry };
const integrationDeps: IntegrationServiceDependencies = {
  integrations: integrationStore(env),
  secrets: secretStore(),
  scheduler: syncScheduler(env),
  // A preview answers within API Gateway's 30 s: the query gets 20 of them.
  sessionLimits: { ...defaultSessionLimits, allowPrivateHosts: env.ROSTER_ALLOW_PRIVATE_HOSTS, connectTimeoutMs: 5_000, statementTimeoutMs: 20_000 },
  launch: (invocation: PostgresSyncInvocation) => lambdaLauncher<PostgresSyncInvocation>(lambdaClient(), env.POSTGRES_SYNC_FUNCTION_NAME)(invocation),
};
// Salesforce: jsforce loads on the first Salesforce request, not at every cold start.
// Bundled (ROSTER_BUNDLED is defined at build time), they are a chunk of their own beside the
// bundle (RosterFunction `lazyChunks`), so the API's bundle and cold start carry no jsforce.
const salesforce = (): Promise<typeof SalesforceModule> =>
  process.env.ROSTER_BUNDLED === 'true' ? import(lazyChunk('salesforce')) : import('../../shared/integrations/salesforce/salesforce-wiring.js');
const salesforceDeps = async () => (await salesforce()).salesforceServiceDependencies(env);
const rateLimiter = tenantRateLimiter(env);
/** The expensive routes count against the tenant's per-minute budget before they do anything. */
const limited =
  <R extends { tenantId: string }>(group: RateLimitedGroup, handle: (request: R) => Promise<RouteReply>) =>
  async (request: R) => {
    await rateLimiter.take(request.tenantId, group);
    return handle(request);
  };
// pg and the SQL parser load on the first integration request, not at every cold start.
// Bundled, they are a chunk of their own too (with libpg-query's WASM beside it), out of the bundle every cold start compiles.
const integrations = (): Promise<typeof PostgresModule> =>
  process.env.ROSTER_BUNDLED === 'true' ? import(lazyChunk('postgres')) : import('../../shared/integrations/postgres/postgres-integration-service.js');
let openApiDocument: unknown;

/** The OAuth redirect URI (API.md): `<API base URL>/integrations/salesforce/callback`. */
function callbackUrl(event: ApiEvent): string {
  const base = env.PUBLIC_API_URL ?? `${event.headers?.['x-forwarded-proto'] ?? 'https'}://${event.requestContext.domainName}`;
  return `${base.replace(/\/$/, '')}/integrations/salesforce/callback`;
}

export const routes = [
  bindRoute(apiRoutes.health, async () => ({ status: 200, body: { status: 'ok' } })),
  bindRoute(apiRoutes.openapi, async ({ event }) => {
    openApiDocument ??= buildOpenApiDocument(allApiRoutes, {
      version: '0.1.0',
      // API Gateway serves HTTPS only and says so in x-forwarded-proto; the local stack says http.
      serverUrl: event.headers?.host ? `${event.headers['x-forwarded-proto'] ?? 'https'}://${event.headers.host}` : undefined,
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
  bindRoute(apiRoutes.createImport, limited('imports', async ({ tenantId, body }) => createImport(imports, tenantId, body))),
  bindRoute(apiRoutes.listImports, async ({ tenantId, query }) => ({
    status: 200,
    body: await listImports(imports, tenantId, query.limit, query.cursor),
  })),
  bindRoute(apiRoutes.getImport, async ({ tenantId, params }) => ({
    status: 200,
    body: await getImport(imports, tenantId, params.importId),
  })),
  bindRoute(apiRoutes.listUsers, async ({ tenantId, query }) => ({ status: 200, body: await listUsers(people, tenantId, query) })),
  bindRoute(apiRoutes.createUser, async ({ tenantId, body }) => createUser(people, tenantId, body)),
  bindRoute(apiRoutes.getUser, async ({ tenantId, params }) => ({ status: 200, body: await getUser(people, tenantId, params.userId) })),
  bindRoute(apiRoutes.patchUser, async ({ tenantId, params, body }) => ({ status: 200, body: await patchUser(people, tenantId, params.userId, body) })),
  bindRoute(apiRoutes.deleteUser, async ({ tenantId, params }) => {
    await deleteUser(people, tenantId, params.userId);
    return { status: 204 };
  }),
  bindRoute(apiRoutes.postEvents, async ({ tenantId, body }) => ({ status: 202, body: await ingestEvents(people, tenantId, body.events as IncomingEvent[]) })),
  bindRoute(apiRoutes.listUserEvents, async ({ tenantId, params, query }) => ({ status: 200, body: await listUserEvents(people, tenantId, params.userId, query) })),
  bindRoute(apiRoutes.createExport, limited('exports', async ({ tenantId, body }) => ({ status: 202, body: await createExport(exportJobs, tenantId, body) }))),
  bindRoute(apiRoutes.getExport, async ({ tenantId, params }) => ({ status: 200, body: await getExport(exportJobs, tenantId, params.exportId) })),
  bindRoute(apiRoutes.putPostgresIntegration, async ({ tenantId, body }) => ({
    status: 200,
    body: await (await integrations()).putPostgresIntegration(integrationDeps, tenantId, body),
  })),
  bindRoute(
    apiRoutes.previewPostgres,
    limited('integration-previews', async ({ tenantId, body }) => ({
      status: 200,
      body: await (await integrations()).previewPostgres(integrationDeps, tenantId, body),
    })),
  ),
  bindRoute(
    apiRoutes.connectSalesforce,
    limited('integration-previews', async ({ tenantId, body, event }) => ({
      status: 200,
      body: await (await salesforce()).connectSalesforce(await salesforceDeps(), tenantId, body, callbackUrl(event)),
    })),
  ),
  bindRoute(apiRoutes.salesforceCallback, async ({ query }) => {
    const { completeSalesforceConnect, CallbackRefusedError, callbackPage } = await salesforce();
    try {
      const connected = await completeSalesforceConnect(await salesforceDeps(), query);
      return { status: 200, html: callbackPage({ connected: true, ...connected }) };
    } catch (error) {
      if (error instanceof CallbackRefusedError) return { status: 400, html: callbackPage({ connected: false, reason: error.message }) };
      throw error;
    }
  }),
  bindRoute(apiRoutes.listSalesforceObjects, async ({ tenantId }) => ({
    status: 200,
    body: await (await salesforce()).listSalesforceObjects(await salesforceDeps(), tenantId),
  })),
  bindRoute(apiRoutes.listSalesforceFields, async ({ tenantId, params }) => ({
    status: 200,
    body: await (await salesforce()).describeSalesforceObject(await salesforceDeps(), tenantId, params.name),
  })),
  bindRoute(apiRoutes.putSalesforceIntegration, async ({ tenantId, body }) => ({
    status: 200,
    body: await (await salesforce()).putSalesforceIntegration(await salesforceDeps(), tenantId, body),
  })),
  bindRoute(apiRoutes.getIntegration, async ({ tenantId, params }) => ({
    status: 200,
    body:
      params.kind === 'salesforce'
        ? await (await salesforce()).getSalesforceIntegration(await salesforceDeps(), tenantId)
        : await (await integrations()).getIntegration(integrationDeps, tenantId, params.kind),
  })),
  bindRoute(apiRoutes.deleteIntegration, async ({ tenantId, params }) => {
    if (params.kind === 'salesforce') await (await salesforce()).deleteSalesforceIntegration(await salesforceDeps(), tenantId);
    else await (await integrations()).deleteIntegration(integrationDeps, tenantId, params.kind);
    return { status: 204 };
  }),
  bindRoute(
    apiRoutes.startIntegrationRun,
    limited('integration-runs', async ({ tenantId, params }) => ({
      status: 202,
      body:
        params.kind === 'salesforce'
          ? await (await salesforce()).startSalesforceRun(await salesforceDeps(), tenantId)
          : await (await integrations()).startIntegrationRun(integrationDeps, tenantId, params.kind),
    })),
  ),
  bindRoute(apiRoutes.listIntegrationRuns, async ({ tenantId, params, query }) => ({
    status: 200,
    body: await (await integrations()).listIntegrationRuns(integrationDeps, tenantId, params.kind, query.limit, query.cursor),
  })),
];

const origins = env.CORS_ORIGINS.split(',').map((origin) => origin.trim());

/** The API function: one middy router over every route of the HTTP API. */
// Outermost, so its after/onError run last: the invocation's metrics are written whatever happened.
const publishMetrics: middy.MiddlewareObj<ApiEvent, ApiResult> = { after: async () => flushMetrics(), onError: async () => flushMetrics() };

export const handler = middy<ApiEvent, ApiResult>()
  .use(publishMetrics)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(httpHeaderNormalizer())
  .use(httpCors({ origins, headers: 'authorization,content-type', methods: 'GET,POST,PUT,PATCH,DELETE,OPTIONS' }))
  .use(httpErrorHandler())
  .handler(httpRouterHandler<ApiEvent, ApiResult>(routes));
