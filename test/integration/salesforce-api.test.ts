import type { Server } from 'node:http';
import { CreateScheduleGroupCommand, GetScheduleCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { handler as ApiHandler } from '../../functions/api/handler.js';
import { lambdaContext } from '../../infra/local/lambda-context.js';
import { LocalLambda } from '../../infra/local/lambda-emulator.js';
import { LOCAL_REGION, LOCAL_SCHEDULE_GROUP, localCredentials, localSyncEnvironment } from '../../infra/local/local-settings.js';
import { startLocalScheduler, type LocalScheduler } from '../../infra/local/scheduler-emulator.js';
import { startLocalSecretsManager, type LocalSecretsManager } from '../../infra/local/secrets-manager-emulator.js';
import { apiEvent, jsonBody } from '../support/api-events.js';
import { startFakeSalesforce, type FakeSalesforce } from '../support/fake-salesforce/fake-salesforce.js';
import { allUsers, uniqueTenant } from '../support/import-harness.js';

/**
 * The Salesforce integration through the API function: the OAuth web-server flow with PKCE
 * against the fake Salesforce (its authorize page approved by `fake.approve`), discovery,
 * settings checked against the org, run now through the local Lambda endpoint, the run
 * history, DELETE revoking at Salesforce, and one tenant never reaching another's org.
 */
let fake: FakeSalesforce;
let secretsServer: LocalSecretsManager;
let scheduler: LocalScheduler;
let lambdaServer: Server;
const lambda = new LocalLambda((message) => console.error(message));
let api: typeof ApiHandler;
let secretsClient: SecretsManagerClient;
let schedulerClient: SchedulerClient;

beforeAll(async () => {
  [fake, secretsServer] = await Promise.all([startFakeSalesforce(), startLocalSecretsManager({ port: 0 })]);
  scheduler = await startLocalScheduler({ port: 0, tickIntervalMs: 0, invoke: async () => undefined });
  const listening = await lambda.listen('127.0.0.1');
  lambdaServer = listening.server;
  // Before the handlers load: their clients and the connected app are read once per process.
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsServer.endpoint,
    AWS_ENDPOINT_URL_SCHEDULER: scheduler.endpoint,
    AWS_ENDPOINT_URL_LAMBDA: listening.endpoint,
    SALESFORCE_CLIENT_ID: fake.clientId,
    SALESFORCE_CLIENT_SECRET: fake.clientSecret,
  });
  secretsClient = new SecretsManagerClient({ endpoint: secretsServer.endpoint, region: LOCAL_REGION, credentials: localCredentials });
  schedulerClient = new SchedulerClient({ endpoint: scheduler.endpoint, region: LOCAL_REGION, credentials: localCredentials });
  await schedulerClient.send(new CreateScheduleGroupCommand({ Name: LOCAL_SCHEDULE_GROUP }));
  ({ handler: api } = await import('../../functions/api/handler.js'));
  const { handler: sync } = await import('../../functions/salesforce-sync/handler.js');
  lambda.register(localSyncEnvironment.SALESFORCE_SYNC_FUNCTION_NAME, { handler: (event, context) => sync(event, context), timeoutMs: 15 * 60_000 });
}, 120_000);

afterAll(async () => {
  await lambda.idle();
  secretsClient?.destroy();
  schedulerClient?.destroy();
  await Promise.all([fake?.close(), secretsServer?.close(), scheduler?.close(), new Promise<void>((resolve) => (lambdaServer ? lambdaServer.close(() => resolve()) : resolve()))]);
});

const ROUTES: Array<[RegExp, string]> = [
  [/^\/integrations\/salesforce\/objects\/([^/]+)\/fields$/, '/integrations/salesforce/objects/{name}/fields'],
  [/^\/integrations\/(salesforce)\/runs$/, '/integrations/{kind}/runs'],
];

async function call(tenantId: string | undefined, method: string, path: string, body?: unknown, query?: Record<string, string>) {
  let routePath = path;
  let pathParameters: Record<string, string> | undefined;
  for (const [pattern, route] of ROUTES) {
    const match = pattern.exec(path);
    if (match) {
      routePath = route;
      pathParameters = route.includes('{name}') ? { name: match[1]! } : { kind: match[1]! };
    }
  }
  if (path === '/integrations/salesforce' && method !== 'PUT') {
    routePath = '/integrations/{kind}';
    pathParameters = { kind: 'salesforce' };
  }
  const result = await api(apiEvent({ method, path, routePath, tenantId, body, query, ...(pathParameters ? { pathParameters } : {}) }), lambdaContext('roster-api'));
  const isHtml = String(result.headers?.['content-type'] ?? '').startsWith('text/html');
  return { status: result.statusCode!, body: isHtml ? undefined : jsonBody(result), html: isHtml ? String(result.body) : undefined, headers: result.headers ?? {} };
}

/** The whole browser round trip: connect, the admin approves at Salesforce, Salesforce redirects to the callback. */
async function connect(tenantId: string, orgId: string) {
  const started = await call(tenantId, 'POST', '/integrations/salesforce/connect', { loginUrl: fake.url });
  expect(started.status).toBe(200);
  const redirect = new URL(fake.approve(started.body.authorizeUrl, { orgId }));
  const query = Object.fromEntries(redirect.searchParams);
  return { started, query, callback: await call(undefined, 'GET', '/integrations/salesforce/callback', undefined, query) };
}

const secretOf = async (tenantId: string) => JSON.parse((await secretsClient.send(new GetSecretValueCommand({ SecretId: `roster/${tenantId}/salesforce` }))).SecretString!);

describe('connect', () => {
  it('builds the authorize URL of the web-server flow with PKCE (S256) and a state bound to the tenant; the callback stores the tokens in Secrets Manager and GET says connected', async () => {
    const tenant = uniqueTenant('sfapi');
    const { started, query, callback } = await connect(tenant, `org-${tenant}`);
    const authorize = new URL(started.body.authorizeUrl);
    expect(authorize.origin + authorize.pathname).toBe(`${fake.url}/services/oauth2/authorize`);
    expect(Object.fromEntries(authorize.searchParams)).toMatchObject({
      response_type: 'code',
      client_id: fake.clientId,
      redirect_uri: 'https://api.example.test/integrations/salesforce/callback',
      code_challenge_method: 'S256',
    });
    expect(authorize.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authorize.searchParams.get('state')).toMatch(new RegExp(`^${tenant}\\.[A-Za-z0-9_-]{43}$`));
    expect(started.body.authorizeUrl).not.toContain('code_verifier');

    expect(callback.status).toBe(200);
    expect(callback.html).toContain('Salesforce is connected');
    expect(callback.headers['content-security-policy']).toContain("default-src 'none'");
    const secret = await secretOf(tenant);
    expect(secret).toMatchObject({ instanceUrl: fake.url, loginUrl: fake.url, orgId: expect.any(String) });
    expect(secret.refreshToken).toEqual(expect.any(String));
    expect(callback.html).not.toContain(secret.refreshToken);

    const got = await call(tenant, 'GET', '/integrations/salesforce');
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ kind: 'salesforce', connected: true, enabled: false, nextRunAt: null, connection: { instanceUrl: fake.url } });
    expect(JSON.stringify(got.body)).not.toContain(secret.refreshToken);
    expect(JSON.stringify(got.body)).not.toContain(secret.accessToken);

    // The same state again (a replayed callback) is refused and changes nothing.
    const replay = await call(undefined, 'GET', '/integrations/salesforce/callback', undefined, query);
    expect(replay.status).toBe(400);
    expect(replay.html).toContain('already used');
    expect((await secretOf(tenant)).refreshToken).toBe(secret.refreshToken);
  });

  it('refuses a forged, missing or foreign state, a denied consent and a refused code with a 400 page, storing nothing', async () => {
    const tenant = uniqueTenant('sfapi');
    const forged = await call(undefined, 'GET', '/integrations/salesforce/callback', undefined, { code: 'x', state: `${tenant}.${'A'.repeat(43)}` });
    expect(forged.status).toBe(400);
    expect((await call(undefined, 'GET', '/integrations/salesforce/callback', undefined, { code: 'x' })).status).toBe(400);

    // A state issued to tenant A, rewritten to name tenant B, finds nothing.
    const other = uniqueTenant('sfapi');
    const started = await call(tenant, 'POST', '/integrations/salesforce/connect', { loginUrl: fake.url });
    const redirect = new URL(fake.approve(started.body.authorizeUrl, { orgId: `org-${tenant}` }));
    const state = redirect.searchParams.get('state')!;
    const foreign = await call(undefined, 'GET', '/integrations/salesforce/callback', undefined, { code: redirect.searchParams.get('code')!, state: state.replace(tenant, other) });
    expect(foreign.status).toBe(400);

    const denied = await call(tenant, 'POST', '/integrations/salesforce/connect', { loginUrl: fake.url });
    const deniedRedirect = new URL(fake.approve(denied.body.authorizeUrl, { deny: true }));
    const deniedPage = await call(undefined, 'GET', '/integrations/salesforce/callback', undefined, Object.fromEntries(deniedRedirect.searchParams));
    expect(deniedPage.status).toBe(400);
    expect(deniedPage.html).toContain('access_denied');

    // A code Salesforce refuses (here: one already exchanged) is a 400 too.
    const again = await call(tenant, 'POST', '/integrations/salesforce/connect', { loginUrl: fake.url });
    const approved = new URL(fake.approve(again.body.authorizeUrl, { orgId: `org-${tenant}` }));
    const badCode = await call(undefined, 'GET', '/integrations/salesforce/callback', undefined, { code: 'not-a-code', state: approved.searchParams.get('state')! });
    expect(badCode.status).toBe(400);
    expect(badCode.html).toContain('refused the authorization code');

    expect((await call(tenant, 'GET', '/integrations/salesforce')).status).toBe(404);
    expect((await call(other, 'GET', '/integrations/salesforce')).status).toBe(404);
    await expect(secretOf(tenant)).rejects.toThrow();
  });

  it('answers a clear 422 when no connected app is configured, storing no state', async () => {
    const { SecretsManagerSecretStore } = await import('../../shared/secrets/secrets-manager-secret-store.js');
    const { SalesforceOAuth } = await import('../../shared/integrations/salesforce/salesforce-oauth.js');
    const { connectSalesforce } = await import('../../shared/integrations/salesforce/salesforce-integration-service.js');
    const { serviceDependencies } = await import('../support/salesforce-harness.js');
    const created: string[] = [];
    const base = serviceDependencies(fake, new SecretsManagerSecretStore(secretsClient));
    const deps = {
      ...base,
      oauth: new SalesforceOAuth(async () => undefined),
      states: { create: async (pending: { tenantId: string }) => (created.push(pending.tenantId), 'never'), consume: base.states.consume.bind(base.states) },
    };
    const refused = await connectSalesforce(deps as typeof base, uniqueTenant('sfapi'), { loginUrl: fake.url }, 'https://api.example.test/integrations/salesforce/callback').catch((error: unknown) => error);
    expect(refused).toMatchObject({ status: 422, message: expect.stringContaining('no connected app is configured') });
    expect(created).toEqual([]);
  });

  it('accepts production, sandbox and My Domain login URLs and refuses others (400 naming loginUrl)', async () => {
    const tenant = uniqueTenant('sfapi');
    for (const loginUrl of ['https://login.salesforce.com', 'https://test.salesforce.com', 'https://acme.my.salesforce.com', 'https://acme--uat.sandbox.my.salesforce.com']) {
      const answer = await call(tenant, 'POST', '/integrations/salesforce/connect', { loginUrl });
      expect(answer.status).toBe(200);
      expect(answer.body.authorizeUrl.startsWith(`${loginUrl}/services/oauth2/authorize?`)).toBe(true);
    }
    expect((await call(tenant, 'POST', '/integrations/salesforce/connect')).body.authorizeUrl).toMatch(/^https:\/\/login\.salesforce\.com\//);
    for (const loginUrl of ['http://login.salesforce.com', 'https://evil.example.com', 'https://login.salesforce.com.evil.example', 'https://login.salesforce.com/path', 'not a url']) {
      const answer = await call(tenant, 'POST', '/integrations/salesforce/connect', { loginUrl });
      expect(answer.status).toBe(400);
      expect(answer.body.error.details[0].field).toBe('body.loginUrl');
    }
  });
});

describe('discovery, settings and runs', () => {
  it('lists objects and fields, checks settings against them, schedules the sync function, runs it now, and lists the run', async () => {
    const tenant = uniqueTenant('sfapi');
    const orgId = `org-${tenant}`;
    fake.org(orgId).insert('Contact', [
      { FirstName: 'Ann', LastName: 'Lee', Email: 'ann@example.com', Loyalty_Tier__c: 'Gold' },
      { FirstName: 'Bo', LastName: 'Ng', Email: 'BO@example.com', Loyalty_Tier__c: 'Silver' },
    ]);
    await connect(tenant, orgId);

    const objects = await call(tenant, 'GET', '/integrations/salesforce/objects');
    expect(objects.status).toBe(200);
    expect(objects.body.items.map((object: { name: string }) => object.name)).toEqual(expect.arrayContaining(['Contact', 'Lead', 'Account']));
    const fields = await call(tenant, 'GET', '/integrations/salesforce/objects/Contact/fields');
    expect(fields.status).toBe(200);
    expect(fields.body.items.find((field: { name: string }) => field.name === 'Roster_Id__c')).toMatchObject({ type: 'string', updateable: true, externalId: true, unique: true });
    expect((await call(tenant, 'GET', '/integrations/salesforce/objects/Nope__c/fields')).status).toBe(404);

    const unknownObject = await call(tenant, 'PUT', '/integrations/salesforce', { import: { enabled: true, object: 'Nope__c', emailField: 'Email', fields: [] } });
    expect(unknownObject.status).toBe(400);
    expect(unknownObject.body.error.details).toEqual([expect.objectContaining({ field: 'body.import.object' })]);
    const unknownField = await call(tenant, 'PUT', '/integrations/salesforce', { import: { enabled: true, object: 'Contact', emailField: 'Email', fields: ['FirstName', 'Shoe_Size__c'] } });
    expect(unknownField.status).toBe(400);
    expect(unknownField.body.error.details).toEqual([expect.objectContaining({ field: 'body.import.fields.Shoe_Size__c' })]);
    const badMode = await call(tenant, 'PUT', '/integrations/salesforce', { import: { enabled: true, object: 'Contact', emailField: 'Email', mode: 'some', fields: [] } });
    expect(badMode.status).toBe(400);
    const exportOnly = await call(tenant, 'PUT', '/integrations/salesforce', {
      import: { enabled: false, object: 'Contact', emailField: 'Email', fields: [] },
      export: { enabled: true, userIdField: 'Roster_Id__c', mapping: {} },
    });
    expect(exportOnly.status).toBe(422);
    const notUpdateable = await call(tenant, 'PUT', '/integrations/salesforce', {
      import: { enabled: true, object: 'Contact', emailField: 'Email', fields: [] },
      export: { enabled: true, userIdField: 'Name_Formula__c', mapping: {} },
    });
    expect(notUpdateable.status).toBe(400);
    expect(notUpdateable.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'body.export.userIdField' })]));

    const weakId = await call(tenant, 'PUT', '/integrations/salesforce', {
      import: { enabled: true, object: 'Contact', emailField: 'Email', fields: ['FirstName', 'Loyalty_Tier__c'] },
      export: { enabled: true, userIdField: 'Legacy_Ref__c', mode: 'existing', mapping: {} },
    });
    expect(weakId.status).toBe(200);
    expect(weakId.body.warnings).toEqual([expect.stringContaining('not an External ID + Unique field')]);

    const saved = await call(tenant, 'PUT', '/integrations/salesforce', {
      import: { enabled: true, object: 'Contact', emailField: 'Email', mode: 'all', fields: ['FirstName', 'Loyalty_Tier__c'] },
      schedule: 'cron(0 3 * * ? *)',
    });
    expect(saved.status).toBe(200);
    expect(saved.body).toMatchObject({
      kind: 'salesforce',
      connected: true,
      enabled: true,
      import: { object: 'Contact', emailField: 'Email', fields: { FirstName: 'first_name', Loyalty_Tier__c: 'loyalty_tier' } },
      schedule: 'cron(0 3 * * ? *)',
      maxApiShare: 0.5,
    });
    const schedule = await schedulerClient.send(new GetScheduleCommand({ Name: `${tenant}-salesforce`, GroupName: LOCAL_SCHEDULE_GROUP }));
    expect(schedule.Target?.Arn).toBe(localSyncEnvironment.SALESFORCE_SYNC_FUNCTION_ARN);
    expect(JSON.parse(schedule.Target!.Input!)).toEqual({ kind: 'salesforce-sync', tenantId: tenant, trigger: 'schedule' });

    const started = await call(tenant, 'POST', '/integrations/salesforce/runs');
    expect(started).toMatchObject({ status: 202, body: { status: 'running' } });
    await lambda.idle();
    const runs = await call(tenant, 'GET', '/integrations/salesforce/runs');
    expect(runs.body.items).toEqual([
      expect.objectContaining({ runId: started.body.runId, trigger: 'manual', status: 'succeeded', counts: expect.objectContaining({ rows: 2, created: 2 }), apiCalls: expect.any(Number) }),
    ]);
    expect((await allUsers(tenant)).map((user) => [user.email, user.properties]).sort()).toEqual([
      ['ann@example.com', { first_name: 'Ann', loyalty_tier: 'Gold' }],
      ['bo@example.com', { first_name: 'Bo', loyalty_tier: 'Silver' }],
    ]);
    expect((await call(tenant, 'GET', '/integrations/salesforce')).body.lastRun).toMatchObject({ status: 'succeeded' });
  });

  it('DELETE revokes the token at Salesforce, then removes the secret, the schedule and the settings', async () => {
    const tenant = uniqueTenant('sfapi');
    await connect(tenant, `org-${tenant}`);
    await call(tenant, 'PUT', '/integrations/salesforce', { import: { enabled: true, object: 'Contact', emailField: 'Email', fields: [] } });
    const secret = await secretOf(tenant);
    const revokesBefore = fake.requests.filter((request) => request.path.startsWith('/services/oauth2/revoke')).length;
    expect((await call(tenant, 'DELETE', '/integrations/salesforce')).status).toBe(204);
    expect(fake.requests.filter((request) => request.path.startsWith('/services/oauth2/revoke')).length).toBe(revokesBefore + 1);
    const { SalesforceOAuth } = await import('../../shared/integrations/salesforce/salesforce-oauth.js');
    const oauth = new SalesforceOAuth(async () => ({ clientId: fake.clientId, clientSecret: fake.clientSecret }));
    await expect(oauth.refresh(fake.url, secret.refreshToken)).rejects.toMatchObject({ name: 'invalid_grant' });
    await expect(secretOf(tenant)).rejects.toThrow();
    expect((await call(tenant, 'GET', '/integrations/salesforce')).status).toBe(404);
    await expect(schedulerClient.send(new GetScheduleCommand({ Name: `${tenant}-salesforce`, GroupName: LOCAL_SCHEDULE_GROUP }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    expect((await call(tenant, 'DELETE', '/integrations/salesforce')).status).toBe(204);
  });

  it('keeps tenants apart: one tenant sees neither the connection nor the org of another', async () => {
    const owner = uniqueTenant('sfapi');
    const intruder = uniqueTenant('sfapi');
    await connect(owner, `org-${owner}`);
    expect((await call(intruder, 'GET', '/integrations/salesforce')).status).toBe(404);
    expect((await call(intruder, 'GET', '/integrations/salesforce/objects')).status).toBe(404);
    expect((await call(intruder, 'POST', '/integrations/salesforce/runs')).status).toBe(404);
    expect((await call(intruder, 'PUT', '/integrations/salesforce', { import: { enabled: true, object: 'Contact', emailField: 'Email', fields: [] } })).status).toBe(404);
    expect((await call(owner, 'GET', '/integrations/salesforce')).body.connected).toBe(true);
  });
});
