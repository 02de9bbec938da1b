import type { Server } from 'node:http';
import { GetScheduleCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { handler as ApiHandler } from '../../functions/api/handler.js';
import { lambdaContext } from '../../infra/local/lambda-context.js';
import { LocalLambda } from '../../infra/local/lambda-emulator.js';
import { LOCAL_REGION, LOCAL_SCHEDULE_GROUP, localCredentials, localSyncEnvironment } from '../../infra/local/local-settings.js';
import { startLocalScheduler, type LocalScheduler } from '../../infra/local/scheduler-emulator.js';
import { startLocalSecretsManager, type LocalSecretsManager } from '../../infra/local/secrets-manager-emulator.js';
import { dynamoDocumentClient } from '../../shared/aws/clients.js';
import { apiEvent, jsonBody } from '../support/api-events.js';
import { allUsers, env, uniqueTenant } from '../support/import-harness.js';
import { adminQuery, createDatabase, startPostgres, type RunningPostgres } from '../support/postgres-server.js';

/**
 * The PostgreSQL integration through the API function: settings (Secrets Manager and DynamoDB),
 * schedules (the local Scheduler endpoint, fired with a fake clock), preview, run now and the
 * run history, with the real sync function run by the local Lambda endpoint.
 */
let pg: RunningPostgres;
let secretsServer: LocalSecretsManager;
let scheduler: LocalScheduler;
let lambdaServer: Server;
let clock = new Date();
const lambda = new LocalLambda((message) => console.error(message));
let api: typeof ApiHandler;
let secretsClient: SecretsManagerClient;
let schedulerClient: SchedulerClient;
let dbUrl: string;
let dbPassword: string;

beforeAll(async () => {
  [pg, secretsServer] = await Promise.all([startPostgres(), startLocalSecretsManager({ port: 0 })]);
  scheduler = await startLocalScheduler({
    port: 0,
    tickIntervalMs: 0,
    now: () => clock,
    invoke: async ({ arn, input }) => {
      lambda.invokeAsync(arn.split(':').pop()!, input ? JSON.parse(input) : {});
    },
  });
  const listening = await lambda.listen('127.0.0.1');
  lambdaServer = listening.server;
  // Before the handlers load: their clients are made once per process, from these variables.
  Object.assign(process.env, { AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsServer.endpoint, AWS_ENDPOINT_URL_SCHEDULER: scheduler.endpoint, AWS_ENDPOINT_URL_LAMBDA: listening.endpoint });
  secretsClient = new SecretsManagerClient({ endpoint: secretsServer.endpoint, region: LOCAL_REGION, credentials: localCredentials });
  schedulerClient = new SchedulerClient({ endpoint: scheduler.endpoint, region: LOCAL_REGION, credentials: localCredentials });
  const { CreateScheduleGroupCommand } = await import('@aws-sdk/client-scheduler');
  await schedulerClient.send(new CreateScheduleGroupCommand({ Name: LOCAL_SCHEDULE_GROUP }));
  ({ handler: api } = await import('../../functions/api/handler.js'));
  const { handler: sync } = await import('../../functions/postgres-sync/handler.js');
  lambda.register(localSyncEnvironment.POSTGRES_SYNC_FUNCTION_NAME, { handler: (event, context) => sync(event, context), timeoutMs: 15 * 60_000 });

  await createDatabase(pg.url(), 'shop');
  dbPassword = 'Reader-Pa55word';
  await adminQuery(
    pg.url('shop'),
    `CREATE SCHEMA crm;
     CREATE TABLE crm.customers (id integer PRIMARY KEY, email text, plan text, visits integer, signed_up timestamptz, tags text[], prefs jsonb, vip boolean, score numeric, born date, updated_at timestamptz);
     INSERT INTO crm.customers SELECT g, 'c' || g || '@example.com', 'free', g, '2024-01-01 10:00:00+02', '{a,b}', '{"k": 1}', g % 2 = 0, 1.5, '1990-01-01', now() - interval '1 day' FROM generate_series(1, 30) g;
     CREATE ROLE reader LOGIN PASSWORD '${dbPassword}';
     GRANT USAGE ON SCHEMA crm TO reader; GRANT SELECT ON ALL TABLES IN SCHEMA crm TO reader;`,
  );
  dbUrl = `postgresql://reader:${dbPassword}@127.0.0.1:${pg.port}/shop?sslmode=disable`;
}, 120_000);

afterAll(async () => {
  await lambda.idle();
  secretsClient?.destroy();
  schedulerClient?.destroy();
  await Promise.all([secretsServer?.close(), scheduler?.close(), new Promise<void>((resolve) => (lambdaServer ? lambdaServer.close(() => resolve()) : resolve()))]);
  await pg?.stop();
});

const call = async (tenantId: string, method: string, path: string, body?: unknown) => {
  const kind = path.match(/^\/integrations\/(postgres|salesforce)(?=\/runs$|$)/)?.[1];
  const routePath = kind && !(method === 'PUT' && path === '/integrations/postgres') ? path.replace(`/integrations/${kind}`, '/integrations/{kind}') : path;
  const result = await api(apiEvent({ method, path, routePath, tenantId, body, ...(kind && routePath !== path ? { pathParameters: { kind } } : {}) }), lambdaContext('roster-api'));
  return { status: result.statusCode, body: jsonBody(result) };
};

const settings = (overrides: Record<string, unknown> = {}) => ({
  connectionUrl: dbUrl,
  schema: 'crm',
  query: 'SELECT id, email, plan, visits, updated_at FROM customers',
  idColumn: 'id',
  enabled: true,
  ...overrides,
});

const getSchedule = (name: string) => schedulerClient.send(new GetScheduleCommand({ Name: name, GroupName: LOCAL_SCHEDULE_GROUP })).catch((error: Error) => error);

describe('settings', () => {
  it('PUT stores the connection in Secrets Manager and the rest masked in DynamoDB; GET shows it masked with nextRunAt', async () => {
    const tenant = uniqueTenant('pgapi');
    const put = await call(tenant, 'PUT', '/integrations/postgres', settings());
    expect(put.status).toBe(200);
    const masked = `postgresql://reader:****@127.0.0.1:${pg.port}/shop?sslmode=disable`;
    expect(put.body).toMatchObject({ kind: 'postgres', connectionUrl: masked, schema: 'crm', idColumn: 'id', mode: 'upsert', schedule: 'cron(0 0 * * ? *)', enabled: true, connected: true });
    const got = await call(tenant, 'GET', '/integrations/postgres');
    expect(got).toEqual({ status: 200, body: put.body });
    const midnight = new Date();
    midnight.setUTCHours(24, 0, 0, 0);
    expect(got.body.nextRunAt).toBe(midnight.toISOString());
    expect(JSON.stringify(got.body)).not.toContain(dbPassword);

    const secret = await secretsClient.send(new GetSecretValueCommand({ SecretId: `roster/${tenant}/postgres` }));
    expect(JSON.parse(secret.SecretString!)).toEqual({ connectionUrl: dbUrl, schema: 'crm' });
    const { Item } = await dynamoDocumentClient().send(new GetCommand({ TableName: env.CONTROL_TABLE, Key: { pk: `TENANT#${tenant}#INTEGRATIONS`, sk: 'postgres' } }));
    expect(Item).toBeDefined();
    expect(JSON.stringify(Item)).not.toContain(dbPassword);
  });

  it('enabling creates the schedule (UTC, 30-minute flexible window, retries, DLQ, the sync function as target); a new schedule updates it; disabling and DELETE remove it', async () => {
    const tenant = uniqueTenant('pgapi');
    await call(tenant, 'PUT', '/integrations/postgres', settings());
    const created = await getSchedule(`${tenant}-postgres`);
    expect(created).toMatchObject({
      ScheduleExpression: 'cron(0 0 * * ? *)',
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 30 },
      State: 'ENABLED',
      Target: {
        Arn: localSyncEnvironment.POSTGRES_SYNC_FUNCTION_ARN,
        RoleArn: localSyncEnvironment.SCHEDULER_ROLE_ARN,
        RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 },
      },
    });
    expect(JSON.parse((created as { Target: { Input: string } }).Target.Input)).toEqual({ kind: 'postgres-sync', tenantId: tenant, trigger: 'schedule' });
    // A later PUT may leave the URL out, or send the masked one back: the saved password is kept.
    const { connectionUrl: _omitted, ...withoutUrl } = settings({ schedule: 'cron(30 2 * * ? *)' });
    expect((await call(tenant, 'PUT', '/integrations/postgres', withoutUrl)).status).toBe(200);
    expect(await getSchedule(`${tenant}-postgres`)).toMatchObject({ ScheduleExpression: 'cron(30 2 * * ? *)' });
    const masked = (await call(tenant, 'GET', '/integrations/postgres')).body.connectionUrl;
    expect((await call(tenant, 'PUT', '/integrations/postgres', settings({ connectionUrl: masked, enabled: false }))).body).toMatchObject({ enabled: false, nextRunAt: null });
    expect(await getSchedule(`${tenant}-postgres`)).toMatchObject({ name: 'ResourceNotFoundException' });
    const secret = await secretsClient.send(new GetSecretValueCommand({ SecretId: `roster/${tenant}/postgres` }));
    expect(JSON.parse(secret.SecretString!).connectionUrl).toBe(dbUrl);

    await call(tenant, 'PUT', '/integrations/postgres', settings());
    expect(await call(tenant, 'DELETE', '/integrations/postgres')).toEqual({ status: 204, body: undefined });
    expect(await getSchedule(`${tenant}-postgres`)).toMatchObject({ name: 'ResourceNotFoundException' });
    expect(await secretsClient.send(new GetSecretValueCommand({ SecretId: `roster/${tenant}/postgres` })).catch((error: Error) => error.name)).toBe('ResourceNotFoundException');
    expect((await call(tenant, 'GET', '/integrations/postgres')).status).toBe(404);
    // DELETE is idempotent.
    expect((await call(tenant, 'DELETE', '/integrations/postgres')).status).toBe(204);
  });

  it.each([
    [{ connectionUrl: 'postgresql://u:p@/db?host=/var/run/postgresql' }, 'body.connectionUrl'],
    [{ connectionUrl: 'postgresql://u:p@h1:5432,h2:5432/db' }, 'body.connectionUrl'],
    [{ connectionUrl: 'postgresql://u:p@db.example.com/db?options=-c%20search_path%3Devil' }, 'body.connectionUrl'],
    [{ connectionUrl: 'mysql://u:p@db.example.com/db' }, 'body.connectionUrl'],
    [{ query: 'DELETE FROM customers' }, 'body.query'],
    [{ query: 'WITH d AS (DELETE FROM customers RETURNING *) SELECT * FROM d' }, 'body.query'],
    [{ query: 'SELECT * INTO stolen FROM customers' }, 'body.query'],
    [{ query: 'SELECT * FROM customers FOR UPDATE' }, 'body.query'],
    [{ query: 'SELECT 1 AS email; DROP TABLE customers' }, 'body.query'],
    [{ query: 'CREATE TABLE x (a int)' }, 'body.query'],
    [{ query: 'SELECT email FROM customers WHERE id = $1' }, 'body.query'],
    [{ query: 'SELEC email FROM customers' }, 'body.query'],
    [{ schedule: 'cron(0 0 * * * *)' }, 'body.schedule'],
    [{ schedule: 'every day' }, 'body.schedule'],
    [{ idColumn: undefined, fallbackToEmail: true }, 'body.fallbackToEmail'],
    [{ mapping: { plan: 'email' } }, 'body.mapping.plan'],
    [{ mapping: { ['x'.repeat(64)]: 'plan' } }, 'body.mapping'],
    [{ sslCa: 'not a certificate' }, 'body.sslCa'],
  ])('refuses %j with a 400 naming %s, and saves nothing', async (change, field) => {
    const tenant = uniqueTenant('pgapi');
    const answer = await call(tenant, 'PUT', '/integrations/postgres', settings(change));
    expect(answer.status).toBe(400);
    expect(JSON.stringify(answer.body.error.details)).toContain(field);
    expect(answer.body.error.message).not.toMatch(/Reader-Pa55word/);
    expect((await call(tenant, 'GET', '/integrations/postgres')).status).toBe(404);
    expect(await getSchedule(`${tenant}-postgres`)).toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('names the problem of a refused query', async () => {
    const tenant = uniqueTenant('pgapi');
    const messages = await Promise.all(
      ['DROP TABLE customers', 'SELECT 1 AS email; SELECT 2', 'WITH d AS (UPDATE customers SET plan = 1 RETURNING *) SELECT * FROM d', 'SELECT email FROM customers WHERE'].map(
        async (query) => (await call(tenant, 'PUT', '/integrations/postgres', settings({ query }))).body.error.message as string,
      ),
    );
    expect(messages[0]).toMatch(/must be a SELECT.*a DROP statement/);
    expect(messages[1]).toMatch(/exactly one statement; it has 2/);
    expect(messages[2]).toMatch(/may only read: it contains UPDATE/);
    expect(messages[3]).toMatch(/not valid SQL: syntax error at end of input/);
  });
});

describe('preview', () => {
  it('returns the columns with their PostgreSQL types and at most 10 rows, in UTC, with the schema as search_path', async () => {
    const tenant = uniqueTenant('pgapi');
    const answer = await call(tenant, 'POST', '/integrations/postgres/preview', {
      connectionUrl: dbUrl,
      schema: 'crm',
      query: 'SELECT id, email, signed_up, tags, prefs, vip, score, born FROM customers ORDER BY id',
    });
    expect(answer.status).toBe(200);
    expect(answer.body.columns).toEqual([
      { name: 'id', type: 'integer' },
      { name: 'email', type: 'text' },
      { name: 'signed_up', type: 'timestamp with time zone' },
      { name: 'tags', type: 'text[]' },
      { name: 'prefs', type: 'jsonb' },
      { name: 'vip', type: 'boolean' },
      { name: 'score', type: 'numeric' },
      { name: 'born', type: 'date' },
    ]);
    expect(answer.body.rows).toHaveLength(10);
    expect(answer.body.rows[0]).toEqual({ id: 1, email: 'c1@example.com', signed_up: '2024-01-01T08:00:00.000Z', tags: ['a', 'b'], prefs: '{"k": 1}', vip: false, score: 1.5, born: '1990-01-01' });
  });

  it('uses the saved connection when none is given; a query error is a 422 with PostgreSQL’s message; a wrong password never echoes', async () => {
    const tenant = uniqueTenant('pgapi');
    expect((await call(tenant, 'POST', '/integrations/postgres/preview', { query: 'SELECT 1 AS email' })).status).toBe(400);
    await call(tenant, 'PUT', '/integrations/postgres', settings());
    const saved = await call(tenant, 'POST', '/integrations/postgres/preview', { query: 'SELECT email FROM customers WHERE id <= 2 ORDER BY id' });
    expect(saved).toEqual({ status: 200, body: { columns: [{ name: 'email', type: 'text' }], rows: [{ email: 'c1@example.com' }, { email: 'c2@example.com' }], incremental: 'full' } });
    // The preview says how runs will read the query.
    const byColumn = await call(tenant, 'POST', '/integrations/postgres/preview', { query: 'SELECT email, updated_at FROM customers' });
    expect(byColumn.body.incremental).toBe('updated_at');
    const byVariable = await call(tenant, 'POST', '/integrations/postgres/preview', { query: 'SELECT email FROM customers WHERE updated_at >= $LAST_SYNC_TIMESTAMP' });
    expect(byVariable.body).toMatchObject({ incremental: 'variable' });
    expect(byVariable.body.rows).toHaveLength(10);
    const missing = await call(tenant, 'POST', '/integrations/postgres/preview', { query: 'SELECT nope FROM customers' });
    expect(missing).toMatchObject({ status: 422, body: { error: { code: 'query_failed', message: 'PostgreSQL: column "nope" does not exist' } } });
    // The saved password never goes to another server: `****` stands for it only at the saved host, port, database and user.
    const elsewhere = `postgresql://reader:****@127.0.0.1:${pg.port + 1}/shop?sslmode=disable`;
    const redirected = await call(tenant, 'POST', '/integrations/postgres/preview', { connectionUrl: elsewhere, query: 'SELECT 1 AS email' });
    expect(redirected).toMatchObject({ status: 400, body: { error: { details: [{ field: 'body.connectionUrl' }] } } });
    expect((await call(tenant, 'PUT', '/integrations/postgres', settings({ connectionUrl: elsewhere }))).status).toBe(400);
    // A syntax error is a query error too, in PostgreSQL's own words (its parser, before any connection).
    const typo = await call(tenant, 'POST', '/integrations/postgres/preview', { query: 'SELEC email FORM customers' });
    expect(typo).toMatchObject({ status: 422, body: { error: { code: 'query_failed', message: 'PostgreSQL: syntax error at or near "SELEC" (at character 1)' } } });
    // A host that does not resolve is a connection failure like a refused port, not an internal error.
    const nowhere = await call(tenant, 'POST', '/integrations/postgres/preview', { connectionUrl: 'postgresql://reader:Secret-Pw-1@db.invalid:5432/app', query: 'SELECT 1 AS email' });
    expect(nowhere).toMatchObject({ status: 422, body: { error: { code: 'connection_failed', message: expect.stringContaining('db.invalid') } } });
    expect(JSON.stringify(nowhere.body)).not.toContain('Secret-Pw-1');
    const wrong = 'Totally-Wrong-Pw-9';
    const denied = await call(tenant, 'POST', '/integrations/postgres/preview', { connectionUrl: dbUrl.replace(dbPassword, wrong), query: 'SELECT 1 AS email' });
    expect(denied).toMatchObject({ status: 422, body: { error: { code: 'authentication_failed' } } });
    expect(JSON.stringify(denied.body)).not.toContain(wrong);
  });
});

describe('runs', () => {
  it('run now: 202, then the history shows the manual run with counts; a second trigger while it runs is a 409', async () => {
    const tenant = uniqueTenant('pgapi');
    // pg_sleep keeps the first run busy long enough for the second trigger to meet it.
    await call(tenant, 'PUT', '/integrations/postgres', settings({ query: 'SELECT c.id, c.email, c.plan, c.visits, c.updated_at FROM customers c, pg_sleep(0.5)' }));
    const started = await call(tenant, 'POST', '/integrations/postgres/runs');
    expect(started).toEqual({ status: 202, body: { runId: expect.stringMatching(/^run_/), status: 'running' } });
    const again = await call(tenant, 'POST', '/integrations/postgres/runs');
    expect(again.status).toBe(409);
    expect(again.body.error.message).toContain(started.body.runId);
    await lambda.idle();
    const history = await call(tenant, 'GET', '/integrations/postgres/runs');
    expect(history.status).toBe(200);
    expect(history.body.items).toEqual([
      expect.objectContaining({ runId: started.body.runId, trigger: 'manual', status: 'succeeded', startedAt: expect.any(String), finishedAt: expect.any(String), counts: expect.objectContaining({ rows: 30, created: 30 }) }),
    ]);
    const users = await allUsers(tenant);
    expect(users).toHaveLength(30);
    expect(users.find((user) => user.email === 'c7@example.com')).toMatchObject({ externalId: '7', properties: { plan: 'free', visits: 7 } });
    expect((await call(tenant, 'GET', '/integrations/postgres')).body.lastRun).toMatchObject({ runId: started.body.runId, status: 'succeeded' });
  });

  it('the schedule fires at midnight UTC and runs the sync with trigger "schedule"', async () => {
    const tenant = uniqueTenant('pgapi');
    clock = new Date('2031-05-01T23:59:00.000Z');
    await call(tenant, 'PUT', '/integrations/postgres', settings());
    await scheduler.tick();
    await lambda.idle();
    expect((await call(tenant, 'GET', '/integrations/postgres/runs')).body.items).toEqual([]);
    clock = new Date('2031-05-02T00:00:01.000Z');
    await scheduler.tick();
    await lambda.idle();
    const runs = (await call(tenant, 'GET', '/integrations/postgres/runs')).body.items;
    expect(runs).toEqual([expect.objectContaining({ trigger: 'schedule', status: 'succeeded', counts: expect.objectContaining({ created: 30 }) })]);
    clock = new Date();
    await call(tenant, 'DELETE', '/integrations/postgres');
  });

  it('a wrong password gives a failed run with a readable error and no password; GET then says connected: false', async () => {
    const tenant = uniqueTenant('pgapi');
    const wrong = 'Another-Wrong-Pw-7';
    await call(tenant, 'PUT', '/integrations/postgres', settings({ connectionUrl: dbUrl.replace(dbPassword, wrong) }));
    await call(tenant, 'POST', '/integrations/postgres/runs');
    await lambda.idle();
    const history = await call(tenant, 'GET', '/integrations/postgres/runs');
    expect(history.body.items[0]).toMatchObject({ status: 'failed', error: { code: 'authentication_failed', message: expect.stringMatching(/password authentication failed for user "reader"/) } });
    expect(JSON.stringify(history.body)).not.toContain(wrong);
    expect((await call(tenant, 'GET', '/integrations/postgres')).body.connected).toBe(false);
  });
});

describe('DELETE while a run runs', () => {
  it('closes the run as failed (integration_deleted) instead of leaving it running forever', async () => {
    const tenant = uniqueTenant('pgapi');
    await call(tenant, 'PUT', '/integrations/postgres', settings({ query: 'SELECT id, email, plan FROM customers, pg_sleep(2)' }));
    const started = await call(tenant, 'POST', '/integrations/postgres/runs');
    expect(started.status).toBe(202);
    expect((await call(tenant, 'DELETE', '/integrations/postgres')).status).toBe(204);
    await lambda.idle();
    const history = await call(tenant, 'GET', '/integrations/postgres/runs');
    expect(history.body.items[0]).toMatchObject({ runId: started.body.runId, status: 'failed', error: { code: 'integration_deleted' }, finishedAt: expect.any(String) });
  });
});

describe('runs against a host that does not resolve', () => {
  it('fail at once with connection_failed (no retries as an internal error); GET then says connected: false', async () => {
    const tenant = uniqueTenant('pgapi');
    await call(tenant, 'PUT', '/integrations/postgres', settings({ connectionUrl: 'postgresql://reader:Secret-Pw-2@db.invalid:5432/app' }));
    await call(tenant, 'POST', '/integrations/postgres/runs');
    await lambda.idle();
    const history = await call(tenant, 'GET', '/integrations/postgres/runs');
    expect(history.body.items).toHaveLength(1);
    expect(history.body.items[0]).toMatchObject({ status: 'failed', error: { code: 'connection_failed', message: expect.stringContaining('db.invalid') } });
    expect(JSON.stringify(history.body)).not.toContain('Secret-Pw-2');
    expect((await call(tenant, 'GET', '/integrations/postgres')).body.connected).toBe(false);
  });
});

describe('tenant isolation', () => {
  it('another tenant sees no settings, no runs, cannot preview or run with the first tenant’s saved connection', async () => {
    const [owner, other] = [uniqueTenant('pgown'), uniqueTenant('pgoth')];
    await call(owner, 'PUT', '/integrations/postgres', settings());
    await call(owner, 'POST', '/integrations/postgres/runs');
    await lambda.idle();
    expect((await call(other, 'GET', '/integrations/postgres')).status).toBe(404);
    expect((await call(other, 'GET', '/integrations/postgres/runs')).body).toEqual({ items: [], nextCursor: null });
    expect((await call(other, 'POST', '/integrations/postgres/runs')).status).toBe(404);
    expect((await call(other, 'POST', '/integrations/postgres/preview', { query: 'SELECT email FROM customers' })).status).toBe(400);
    // Another tenant's DELETE deletes only its own (nothing): the owner's integration stays.
    expect((await call(other, 'DELETE', '/integrations/postgres')).status).toBe(204);
    expect(await allUsers(other)).toEqual([]);
    expect((await call(owner, 'GET', '/integrations/postgres')).status).toBe(200);
  });

  it('salesforce is not configured here (404), and unknown kinds are a 400', async () => {
    const tenant = uniqueTenant('pgapi');
    expect((await call(tenant, 'GET', '/integrations/salesforce')).status).toBe(404);
    const unknown = await api(apiEvent({ method: 'GET', path: '/integrations/mysql', routePath: '/integrations/{kind}', tenantId: tenant, pathParameters: { kind: 'mysql' } }), lambdaContext('roster-api'));
    expect(unknown.statusCode).toBe(400);
  });
});
