import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { handler as ApiHandler } from '../../functions/api/handler.js';
import type { Server } from 'node:http';
import { lambdaContext } from '../../infra/local/lambda-context.js';
import { LocalLambda } from '../../infra/local/lambda-emulator.js';
import { LOCAL_REGION, LOCAL_SCHEDULE_GROUP, localCredentials } from '../../infra/local/local-settings.js';
import { startLocalScheduler, type LocalScheduler } from '../../infra/local/scheduler-emulator.js';
import { startLocalSecretsManager, type LocalSecretsManager } from '../../infra/local/secrets-manager-emulator.js';
import { allApiRoutes } from '../../shared/http/api-contract.js';
import { apiEvent, jsonBody } from '../support/api-events.js';
import { uniqueTenant } from '../support/import-harness.js';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretsManagerSecretStore } from '../../shared/secrets/secrets-manager-secret-store.js';
import { startFakeSalesforce, type FakeSalesforce } from '../support/fake-salesforce/fake-salesforce.js';
import { connectOrg } from '../support/salesforce-harness.js';

/**
 * Tenant isolation, route by route: tenant B calls every authenticated route with tenant
 * A's IDs, emails, cursors and settings, and must see or change nothing of A's. The table
 * must name every authenticated route of the contract, so a new route without a case fails here.
 */
let api: typeof ApiHandler;
let secrets: LocalSecretsManager;
let scheduler: LocalScheduler;
// Accepts the export function's asynchronous invocations (what the export does is tested elsewhere).
const lambda = new LocalLambda(() => undefined);
let lambdaServer: Server;
let fake: FakeSalesforce;
let secretStore: SecretsManagerSecretStore;

beforeAll(async () => {
  secrets = await startLocalSecretsManager({ port: 0 });
  fake = await startFakeSalesforce();
  secretStore = new SecretsManagerSecretStore(new SecretsManagerClient({ endpoint: secrets.endpoint, region: LOCAL_REGION, credentials: localCredentials }));
  scheduler = await startLocalScheduler({ port: 0, tickIntervalMs: 0, invoke: async () => undefined });
  lambda.register('roster-export', { handler: async () => 'ignored', timeoutMs: 1000 });
  const listening = await lambda.listen('127.0.0.1');
  lambdaServer = listening.server;
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
    AWS_ENDPOINT_URL_SCHEDULER: scheduler.endpoint,
    AWS_ENDPOINT_URL_LAMBDA: listening.endpoint,
    SALESFORCE_CLIENT_ID: fake.clientId,
    SALESFORCE_CLIENT_SECRET: fake.clientSecret,
  });
  const { SchedulerClient, CreateScheduleGroupCommand } = await import('@aws-sdk/client-scheduler');
  const client = new SchedulerClient({ endpoint: scheduler.endpoint, region: LOCAL_REGION, credentials: localCredentials });
  await client.send(new CreateScheduleGroupCommand({ Name: LOCAL_SCHEDULE_GROUP }));
  client.destroy();
  ({ handler: api } = await import('../../functions/api/handler.js'));
}, 60_000);
afterAll(async () => {
  await lambda.idle();
  await new Promise<void>((resolve) => (lambdaServer ? lambdaServer.close(() => resolve()) : resolve()));
  await secrets?.close();
  await scheduler?.close();
  await fake?.close();
});

async function call(tenantId: string, method: string, routePath: string, options: { params?: Record<string, string>; body?: unknown; query?: Record<string, string> } = {}) {
  const path = Object.entries(options.params ?? {}).reduce((text, [name, value]) => text.replace(`{${name}}`, value), routePath);
  const result = await api(
    apiEvent({ method, path, routePath, tenantId, body: options.body, query: options.query, ...(options.params ? { pathParameters: options.params } : {}) }),
    lambdaContext('roster-api'),
  );
  return { status: result.statusCode, body: jsonBody(result) };
}

interface Owned {
  userId: string;
  email: string;
  externalId: string;
  importId: string;
  exportId: string;
  usersCursor: string;
}

async function seedOwner(tenant: string): Promise<Owned> {
  await call(tenant, 'POST', '/properties', { body: { name: 'secret_plan', type: 'string' } });
  const user = (await call(tenant, 'POST', '/users', { body: { email: 'owner@example.com', externalId: 'crm-owner', properties: { secret_plan: 'gold' } } })).body;
  await call(tenant, 'POST', '/users', { body: { email: 'second@example.com' } });
  await call(tenant, 'POST', '/events', { body: { events: [{ userId: user.userId, type: 'order.placed', properties: { total: 10 } }] } });
  const upload = (await call(tenant, 'POST', '/imports', { body: { filename: 'a.csv' } })).body;
  const exported = await call(tenant, 'POST', '/exports', { body: { kind: 'users' } });
  expect(exported.status).toBe(202);
  const put = await call(tenant, 'PUT', '/integrations/postgres', {
    body: { connectionUrl: 'postgresql://reader:owner-secret@127.0.0.1:1/db?sslmode=disable', query: 'SELECT email FROM t', enabled: true },
  });
  expect(put.status).toBe(200);
  // A's Salesforce org, connected and configured.
  fake.org(`org-${tenant}`).insert('Contact', [{ LastName: 'Owner', Email: 'sf-owner@example.com' }]);
  await connectOrg(fake, secretStore, tenant, `org-${tenant}`);
  const sfPut = await call(tenant, 'PUT', '/integrations/salesforce', { body: { import: { enabled: true, object: 'Contact', emailField: 'Email', fields: ['LastName'] } } });
  expect(sfPut.status).toBe(200);
  const page = (await call(tenant, 'GET', '/users', { query: { limit: '1' } })).body;
  return {
    userId: user.userId,
    email: user.email,
    externalId: 'crm-owner',
    importId: upload.importId,
    exportId: exported.body.exportId,
    usersCursor: page.nextCursor,
  };
}

type Case = (other: string, owned: Owned) => Promise<void>;

const cases: Record<string, Case> = {
  listProperties: async (other) => {
    expect((await call(other, 'GET', '/properties')).body.items.map((p: { name: string }) => p.name)).not.toContain('secret_plan');
  },
  defineProperty: async (other) => {
    // The same name in another tenant is that tenant's own property, of its own type.
    expect((await call(other, 'POST', '/properties', { body: { name: 'secret_plan', type: 'number' } })).status).toBe(201);
  },
  createImport: async (other) => {
    const created = await call(other, 'POST', '/imports', { body: { filename: 'b.csv' } });
    expect(created.status).toBe(201);
    expect(created.body.uploadUrl).toContain(`uploads/${other}/`);
  },
  listImports: async (other, owned) => {
    expect((await call(other, 'GET', '/imports')).body.items.map((i: { importId: string }) => i.importId)).not.toContain(owned.importId);
  },
  getImport: async (other, owned) => {
    expect((await call(other, 'GET', '/imports/{importId}', { params: { importId: owned.importId } })).status).toBe(404);
  },
  listUsers: async (other, owned) => {
    expect((await call(other, 'GET', '/users')).body.items).toEqual([]);
    expect((await call(other, 'GET', '/users', { query: { email: owned.email } })).body.items).toEqual([]);
    expect((await call(other, 'GET', '/users', { query: { externalId: owned.externalId } })).body.items).toEqual([]);
    // A's cursor is bound to A.
    expect((await call(other, 'GET', '/users', { query: { cursor: owned.usersCursor } })).status).toBe(400);
  },
  createUser: async (other, owned) => {
    // A's email and external ID are free in B: B gets its own, new user.
    const created = await call(other, 'POST', '/users', { body: { email: owned.email, externalId: owned.externalId } });
    expect(created.status).toBe(201);
    expect(created.body.userId).not.toBe(owned.userId);
  },
  getUser: async (other, owned) => {
    expect((await call(other, 'GET', '/users/{userId}', { params: { userId: owned.userId } })).status).toBe(404);
  },
  patchUser: async (other, owned) => {
    expect((await call(other, 'PATCH', '/users/{userId}', { params: { userId: owned.userId }, body: { properties: { secret_plan: 'stolen' } } })).status).toBe(404);
  },
  deleteUser: async (other, owned) => {
    expect((await call(other, 'DELETE', '/users/{userId}', { params: { userId: owned.userId } })).status).toBe(404);
  },
  postEvents: async (other, owned) => {
    const answer = await call(other, 'POST', '/events', { body: { events: [{ userId: owned.userId, type: 'x.y' }] } });
    expect(answer.body.accepted).toBe(0);
  },
  listUserEvents: async (other, owned) => {
    expect((await call(other, 'GET', '/users/{userId}/events', { params: { userId: owned.userId } })).status).toBe(404);
  },
  createExport: async (other) => {
    expect((await call(other, 'POST', '/exports', { body: { kind: 'users' } })).status).toBe(202);
  },
  getExport: async (other, owned) => {
    expect((await call(other, 'GET', '/exports/{exportId}', { params: { exportId: owned.exportId } })).status).toBe(404);
  },
  putPostgresIntegration: async (other) => {
    // B's PUT without a URL finds no saved connection: A's is not B's.
    const answer = await call(other, 'PUT', '/integrations/postgres', { body: { query: 'SELECT email FROM t', enabled: false } });
    expect(answer.status).toBe(400);
    expect(JSON.stringify(answer.body)).not.toContain('owner-secret');
  },
  previewPostgres: async (other) => {
    expect((await call(other, 'POST', '/integrations/postgres/preview', { body: { query: 'SELECT email FROM t' } })).status).toBe(400);
  },
  getIntegration: async (other) => {
    expect((await call(other, 'GET', '/integrations/{kind}', { params: { kind: 'postgres' } })).status).toBe(404);
  },
  deleteIntegration: async (other) => {
    // Idempotent and tenant-bound: B deletes only its own (nothing); A's is checked below.
    expect((await call(other, 'DELETE', '/integrations/{kind}', { params: { kind: 'postgres' } })).status).toBe(204);
  },
  startIntegrationRun: async (other) => {
    expect((await call(other, 'POST', '/integrations/{kind}/runs', { params: { kind: 'postgres' } })).status).toBe(404);
  },
  listIntegrationRuns: async (other) => {
    expect((await call(other, 'GET', '/integrations/{kind}/runs', { params: { kind: 'postgres' } })).body).toEqual({ items: [], nextCursor: null });
    expect((await call(other, 'GET', '/integrations/{kind}/runs', { params: { kind: 'salesforce' } })).body).toEqual({ items: [], nextCursor: null });
  },
  connectSalesforce: async (other) => {
    // B's state names B: the callback can only ever connect B.
    const answer = await call(other, 'POST', '/integrations/salesforce/connect', { body: { loginUrl: fake.url } });
    expect(answer.status).toBe(200);
    expect(new URL(answer.body.authorizeUrl).searchParams.get('state')!.startsWith(`${other}.`)).toBe(true);
  },
  listSalesforceObjects: async (other) => {
    expect((await call(other, 'GET', '/integrations/salesforce/objects')).status).toBe(404);
  },
  listSalesforceFields: async (other) => {
    expect((await call(other, 'GET', '/integrations/salesforce/objects/{name}/fields', { params: { name: 'Contact' } })).status).toBe(404);
  },
  putSalesforceIntegration: async (other) => {
    const answer = await call(other, 'PUT', '/integrations/salesforce', { body: { import: { enabled: true, object: 'Contact', emailField: 'Email', fields: [] } } });
    expect(answer.status).toBe(404);
    expect((await call(other, 'GET', '/integrations/{kind}', { params: { kind: 'salesforce' } })).status).toBe(404);
    expect((await call(other, 'POST', '/integrations/{kind}/runs', { params: { kind: 'salesforce' } })).status).toBe(404);
    expect((await call(other, 'DELETE', '/integrations/{kind}', { params: { kind: 'salesforce' } })).status).toBe(204);
  },
};

describe('tenant isolation, route by route', () => {
  it('the table covers every authenticated route of the contract', () => {
    expect(Object.keys(cases).sort()).toEqual(allApiRoutes.filter((route) => route.auth).map((route) => route.operationId).sort());
  });

  it('tenant B, calling every route with tenant A’s IDs, sees and changes nothing of A’s', async () => {
    const [owner, other] = [uniqueTenant('own'), uniqueTenant('oth')];
    const owned = await seedOwner(owner);
    for (const [operation, run] of Object.entries(cases)) {
      await run(other, owned).catch((error: Error) => {
        throw new Error(`${operation}: ${error.message}`);
      });
    }
    // A's data is as it was.
    const user = await call(owner, 'GET', '/users/{userId}', { params: { userId: owned.userId } });
    expect(user).toMatchObject({ status: 200, body: { email: owned.email, externalId: owned.externalId, properties: { secret_plan: 'gold' } } });
    expect((await call(owner, 'GET', '/users/{userId}/events', { params: { userId: owned.userId } })).body.items.map((e: { type: string }) => e.type)).toContain('order.placed');
    expect((await call(owner, 'GET', '/integrations/{kind}', { params: { kind: 'postgres' } })).body).toMatchObject({ enabled: true, query: 'SELECT email FROM t' });
    expect((await call(owner, 'GET', '/integrations/{kind}', { params: { kind: 'salesforce' } })).body).toMatchObject({ connected: true, enabled: true, import: { object: 'Contact' } });
    expect(await secretStore.get(`roster/${owner}/salesforce`)).toContain('refreshToken');
    expect((await call(owner, 'GET', '/properties')).body.items).toContainEqual(expect.objectContaining({ name: 'secret_plan', type: 'string' }));
    expect((await call(owner, 'GET', '/imports/{importId}', { params: { importId: owned.importId } })).status).toBe(200);
  }, 60_000);
});
