import type { Server } from 'node:http';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler } from '../../functions/api/handler.js';
import { handler as exportHandler } from '../../functions/export/handler.js';
import { lambdaContext } from '../../infra/local/lambda-context.js';
import { LocalLambda } from '../../infra/local/lambda-emulator.js';
import { s3Client } from '../../shared/aws/clients.js';
import { DynamoExportSource } from '../../shared/exports/export-sources.js';
import { defaultExportRunSettings, ExportBusyError, runExport, type ExportInvocation, type ExportRunDependencies } from '../../shared/exports/export-run.js';
import { exportKey } from '../../shared/exports/export-record.js';
import { createExport } from '../../shared/exports/export-service.js';
import type { BlobStore } from '../../shared/storage/blob-store.js';
import { dynamoDocumentClient } from '../../shared/aws/clients.js';
import { exportStore, userStore } from '../../shared/wiring/stores.js';
import { apiEvent, jsonBody } from '../support/api-events.js';
import { blobs, env, importFile, registry, uniqueTenant } from '../support/import-harness.js';
import { TEST_BUCKET } from '../support/test-resources.js';

// The API starts exports with an asynchronous Lambda invocation; here the local Invoke
// endpoint runs the real export function in-process, as the local stack does.
const lambda = new LocalLambda((message) => console.error(message));
let server: Server;
beforeAll(async () => {
  lambda.register('roster-export', { handler: (event, context) => exportHandler(event, context), timeoutMs: 15 * 60_000 });
  const listening = await lambda.listen('127.0.0.1');
  server = listening.server;
  process.env.AWS_ENDPOINT_URL_LAMBDA = listening.endpoint;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const call = async (tenantId: string, method: string, path: string, options: { body?: unknown; query?: Record<string, string> } = {}) => {
  const routePath = path.replace(/^\/users\/[^/]+/, '/users/{userId}').replace(/^\/exports\/[^/]+/, '/exports/{exportId}');
  const userId = path.match(/^\/users\/([^/]+)/)?.[1];
  const exportId = path.match(/^\/exports\/([^/]+)/)?.[1];
  const result = await handler(
    apiEvent({ method, path, routePath, tenantId, query: options.query, body: options.body, ...(userId ? { pathParameters: { userId } } : exportId ? { pathParameters: { exportId } } : {}) }),
    lambdaContext('roster-api'),
  );
  return { status: result.statusCode, body: jsonBody(result) };
};

/** Starts an export through the API, waits for the export function, and downloads the file. */
async function exportThroughApi(tenant: string, body: unknown) {
  const started = await call(tenant, 'POST', '/exports', { body });
  expect(started.status).toBe(202);
  expect(started.body).toEqual({ exportId: expect.stringMatching(/^exp_/), status: 'processing' });
  await lambda.idle();
  const done = await call(tenant, 'GET', `/exports/${started.body.exportId}`);
  expect(done.status).toBe(200);
  expect(done.body.status).toBe('completed');
  const bytes = Buffer.from(await (await fetch(done.body.downloadUrl)).arrayBuffer());
  return { exportId: started.body.exportId as string, record: done.body, bytes, rows: parse(bytes.toString('utf8').replace(/^\uFEFF/, '')) as string[][] };
}

describe('users export', () => {
  it('writes the fixed columns then every property, UTF-8 with BOM, accents intact, formula cells neutralised', async () => {
    const tenant = uniqueTenant();
    await call(tenant, 'POST', '/properties', { body: { name: 'visits', type: 'number' } });
    await call(tenant, 'POST', '/properties', { body: { name: 'tags', type: 'list' } });
    const ada = (await call(tenant, 'POST', '/users', { body: { email: 'ada@example.com', externalId: 'crm-1', properties: { name: 'Adélaïde Müller-Straße', visits: '-3', tags: ['a', 'b'] } } })).body;
    const eve = (await call(tenant, 'POST', '/users', { body: { email: 'eve@example.com', properties: { name: '=HYPERLINK("http://evil.example","x")', visits: 7 } } })).body;
    const tab = (await call(tenant, 'POST', '/users', { body: { email: 'tab@example.com', properties: { name: '\tcmd', tags: ['+1', '@x'] } } })).body;

    const { bytes, rows, record } = await exportThroughApi(tenant, { kind: 'users' });
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(record).toMatchObject({ kind: 'users', rows: 3, expiresAt: expect.any(String) });
    expect(new Date(record.expiresAt).getTime()).toBeGreaterThan(Date.now() + 50 * 60_000);
    expect(rows[0]).toEqual(['user_id', 'email', 'external_id', 'created_at', 'updated_at', 'name', 'tags', 'visits']);
    const byEmail = new Map(rows.slice(1).map((row) => [row[1], row]));
    expect(rows).toHaveLength(4);
    expect(byEmail.get('ada@example.com')).toEqual([ada.userId, 'ada@example.com', 'crm-1', ada.createdAt, ada.updatedAt, 'Adélaïde Müller-Straße', '["a","b"]', "'-3"]);
    expect(byEmail.get('eve@example.com')).toEqual([eve.userId, 'eve@example.com', '', eve.createdAt, eve.updatedAt, `'=HYPERLINK("http://evil.example","x")`, '', '7']);
    expect(byEmail.get('tab@example.com')!.slice(5)).toEqual(["'\tcmd", '["+1","@x"]', '']);
    expect(tab.userId).toMatch(/^u_/);
  });

  it('takes chosen property columns in their order, refuses unknown ones naming them, and exports a header-only file for no users', async () => {
    const tenant = uniqueTenant();
    await importFile(tenant, 'email,plan,city\nbo@example.com,gold,Zürich\n');
    const { rows } = await exportThroughApi(tenant, { kind: 'users', properties: ['city', 'plan'] });
    expect(rows[0]!.slice(5)).toEqual(['city', 'plan']);
    expect(rows[1]!.slice(1, 2).concat(rows[1]!.slice(5))).toEqual(['bo@example.com', 'Zürich', 'gold']);
    const unknown = await call(tenant, 'POST', '/exports', { body: { kind: 'users', properties: ['plan', 'nope'] } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.details).toEqual([{ field: 'body.properties.1', message: expect.stringContaining('nope') }]);
    expect((await call(tenant, 'POST', '/exports', { body: { kind: 'everything' } })).status).toBe(400);
    const empty = await exportThroughApi(uniqueTenant(), { kind: 'users' });
    expect(empty.rows).toEqual([['user_id', 'email', 'external_id', 'created_at', 'updated_at']]);
  });

  it('exports 2,500 users each exactly once', async () => {
    const tenant = uniqueTenant();
    await importFile(tenant, `email,n\n${Array.from({ length: 2500 }, (_, i) => `u${i}@example.com,${i}`).join('\n')}\n`);
    const { rows, record } = await exportThroughApi(tenant, { kind: 'users' });
    expect(record.rows).toBe(2500);
    const emails = rows.slice(1).map((row) => row[1]);
    expect(new Set(emails).size).toBe(2500);
    expect(emails).toHaveLength(2500);
  });
});

describe('events export', () => {
  it('exports the chosen types in a date range, time-ordered, with the user’s email and properties as JSON', async () => {
    const tenant = uniqueTenant();
    const ada = (await call(tenant, 'POST', '/users', { body: { email: 'ada@example.com' } })).body;
    const bob = (await call(tenant, 'POST', '/users', { body: { email: 'bob@example.com' } })).body;
    const events = [
      { userId: ada.userId, type: 'order.placed', occurredAt: '2026-03-01T10:00:00Z', properties: { total: 12.5, note: '=1+1' }, eventId: 'o1' },
      { userId: bob.userId, type: 'order.placed', occurredAt: '2026-03-01T09:00:00Z', eventId: 'o2' },
      { userId: bob.userId, type: 'page.viewed', occurredAt: '2026-03-02T00:00:00Z', eventId: 'p1' },
      { userId: ada.userId, type: 'order.placed', occurredAt: '2026-03-03T00:00:00Z', eventId: 'o3' },
      { userId: ada.userId, type: 'page.viewed', occurredAt: '2026-02-28T23:59:59Z', eventId: 'p0' },
    ];
    expect((await call(tenant, 'POST', '/events', { body: { events } })).body.accepted).toBe(5);

    const ranged = await exportThroughApi(tenant, { kind: 'events', types: ['order.placed', 'page.viewed'], from: '2026-03-01', to: '2026-03-02' });
    // properties is JSON (its keys in any order): compared parsed.
    expect(ranged.rows.map((row, index) => (index === 0 ? row : [...row.slice(0, 6), JSON.parse(row[6]!)]))).toEqual([
      ['event_id', 'user_id', 'email', 'type', 'occurred_at', 'source', 'properties'],
      ['o2', bob.userId, 'bob@example.com', 'order.placed', '2026-03-01T09:00:00.000Z', 'api', {}],
      ['o1', ada.userId, 'ada@example.com', 'order.placed', '2026-03-01T10:00:00.000Z', 'api', { total: 12.5, note: '=1+1' }],
      ['p1', bob.userId, 'bob@example.com', 'page.viewed', '2026-03-02T00:00:00.000Z', 'api', {}],
    ]);
    // JSON starts with `{`, so it never needs the formula guard.
    expect(ranged.rows[2]![6]!.startsWith('{')).toBe(true);
    const oneType = await exportThroughApi(tenant, { kind: 'events', types: ['order.placed'] });
    expect(oneType.rows.slice(1).map((row) => row[0])).toEqual(['o2', 'o1', 'o3']);
    // All types, all time: the system's user.created events too.
    const all = await exportThroughApi(tenant, { kind: 'events' });
    expect(all.rows.slice(1).map((row) => row[3]).sort()).toEqual(['order.placed', 'order.placed', 'order.placed', 'page.viewed', 'page.viewed', 'user.created', 'user.created']);
    expect(all.rows.slice(1).map((row) => row[4])).toEqual([...all.rows.slice(1).map((row) => row[4]!)].sort());
    const bad = await call(tenant, 'POST', '/exports', { body: { kind: 'events', from: '2026-03-02', to: '2026-03-01' } });
    expect(bad.status).toBe(400);
    expect((await call(tenant, 'POST', '/exports', { body: { kind: 'events', types: ['bad type!'] } })).status).toBe(400);
  });
});

/** Runs an export job in-process with a small page size, following continuations. */
async function runInProcess(tenant: string, body: Parameters<typeof createExport>[2], options: { remainingMs: () => number; blobStore?: BlobStore; pageSize?: number }) {
  const exports = exportStore(env);
  const invocations: ExportInvocation[] = [];
  const deps: ExportRunDependencies = {
    exports,
    source: new DynamoExportSource(dynamoDocumentClient(), { usersTable: env.USERS_TABLE, eventsTable: env.EVENTS_TABLE }, options.pageSize ?? 7),
    users: userStore(env),
    registry,
    blobs: options.blobStore ?? blobs,
    continueLater: async (request) => void invocations.push(request),
  };
  const { exportId } = await createExport({ exports, blobs, registry, launch: async (request) => void invocations.push(request) }, tenant, body);
  const results: string[] = [];
  const settings = { ...defaultExportRunSettings, heartbeatMs: 0 };
  while (invocations.length > 0) {
    try {
      results.push(await runExport(deps, invocations.shift()!, options.remainingMs, settings));
    } catch (error) {
      results.push(`threw ${(error as Error).name}`);
      if (results.length < 10) invocations.push({ kind: 'export', tenantId: tenant, exportId });
    }
  }
  return { exportId, results, record: (await exports.get(tenant, exportId))!, deps, settings };
}

const download = async (tenant: string, exportId: string) => {
  const stream = await blobs.read(exportKey(tenant, exportId));
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

describe('long exports continue in new invocations', () => {
  it('a users export out of time after every page continues until done: the same file as one run, parts removed', async () => {
    const tenant = uniqueTenant();
    await importFile(tenant, `email,plan\n${Array.from({ length: 60 }, (_, i) => `c${i}@example.com,p${i}`).join('\n')}\n`);
    const once = await runInProcess(tenant, { kind: 'users' }, { remainingMs: () => 15 * 60_000 });
    expect(once.results).toEqual(['completed']);
    const sliced = await runInProcess(tenant, { kind: 'users' }, { remainingMs: () => 0 });
    expect(sliced.results.length).toBeGreaterThan(8);
    expect(sliced.results.at(-1)).toBe('completed');
    expect(sliced.results.slice(0, -1).every((result) => result === 'continued')).toBe(true);
    expect(sliced.record).toMatchObject({ status: 'completed', rows: 60 });
    const [a, b] = [await download(tenant, once.exportId), await download(tenant, sliced.exportId)];
    expect(b).toBe(a);
    expect(b.startsWith('\uFEFFuser_id,')).toBe(true);
    expect(b.match(/\uFEFF/g)).toHaveLength(1);
    const left = await s3Client().send(new ListObjectsV2Command({ Bucket: TEST_BUCKET, Prefix: `exports/${tenant}/${sliced.exportId}/` }));
    expect(left.KeyCount ?? 0).toBe(0);
  });

  it('an events export cut between pages loses and repeats nothing, also where many events share a timestamp', async () => {
    const tenant = uniqueTenant();
    const ada = (await call(tenant, 'POST', '/users', { body: { email: 'ada@example.com' } })).body;
    const events = Array.from({ length: 90 }, (_, i) => ({ userId: ada.userId, type: i % 3 ? 'click' : 'view', eventId: `ev-${i}`, occurredAt: `2026-04-0${1 + (i % 2)}T12:00:${String(Math.floor(i / 10)).padStart(2, '0')}Z` }));
    for (let start = 0; start < events.length; start += 30) await call(tenant, 'POST', '/events', { body: { events: events.slice(start, start + 30) } });
    const sliced = await runInProcess(tenant, { kind: 'events', types: ['click', 'view'] }, { remainingMs: () => 0, pageSize: 4 });
    expect(sliced.results.at(-1)).toBe('completed');
    expect(sliced.results.length).toBeGreaterThan(5);
    const rows = parse((await download(tenant, sliced.exportId)).replace(/^\uFEFF/, '')) as string[][];
    const ids = rows.slice(1).map((row) => row[0]);
    expect(ids).toHaveLength(90);
    expect(new Set(ids).size).toBe(90);
    expect(rows.slice(1).map((row) => row[4])).toEqual(rows.slice(1).map((row) => row[4]!).sort());
  });

  it('a second invocation while one runs is refused (busy, retried later); after completion it is ignored', async () => {
    const tenant = uniqueTenant();
    await call(tenant, 'POST', '/users', { body: { email: 'ada@example.com' } });
    const done = await runInProcess(tenant, { kind: 'users' }, { remainingMs: () => 15 * 60_000 });
    expect(await runExport(done.deps, { kind: 'export', tenantId: tenant, exportId: done.exportId }, () => 60_000, done.settings)).toBe('ignored');
    const exports = exportStore(env);
    const { exportId } = await createExport({ exports, blobs, registry, launch: async () => undefined }, tenant, { kind: 'users' });
    expect(await exports.claim(tenant, exportId, { leaseId: 'someone-else', leaseMs: 60_000, now: new Date() })).toBeDefined();
    await expect(runExport(done.deps, { kind: 'export', tenantId: tenant, exportId }, () => 60_000, done.settings)).rejects.toBeInstanceOf(ExportBusyError);
  });

  it('an export whose upload keeps failing is marked failed after three attempts, with no file published', async () => {
    const tenant = uniqueTenant();
    await call(tenant, 'POST', '/users', { body: { email: 'ada@example.com' } });
    const failing = Object.create(blobs) as BlobStore;
    failing.upload = async () => Promise.reject(new Error('S3 is down'));
    const run = await runInProcess(tenant, { kind: 'users' }, { remainingMs: () => 15 * 60_000, blobStore: failing });
    expect(run.results).toEqual(['threw Error', 'threw Error', 'failed']);
    expect(run.record).toMatchObject({ status: 'failed', error: { code: 'export_failed' } });
    const answer = await call(tenant, 'GET', `/exports/${run.exportId}`);
    expect(answer.body.status).toBe('failed');
    expect(answer.body.downloadUrl).toBeUndefined();
    expect(await blobs.size(exportKey(tenant, run.exportId))).toBeUndefined();
  });
});

describe('tenant isolation of exports', () => {
  it('another tenant cannot read A’s export, and its own exports hold none of A’s users or events', async () => {
    const a = uniqueTenant('a');
    const b = uniqueTenant('b');
    const ada = (await call(a, 'POST', '/users', { body: { email: 'ada@example.com', properties: { secret: 'a-only' } } })).body;
    await call(a, 'POST', '/events', { body: { events: [{ userId: ada.userId, type: 'secret.event' }] } });
    const { exportId } = await exportThroughApi(a, { kind: 'users' });
    const foreign = await call(b, 'GET', `/exports/${exportId}`);
    expect(foreign.status).toBe(404);
    expect(JSON.stringify(foreign.body)).not.toContain('http');
    const users = await exportThroughApi(b, { kind: 'users' });
    expect(users.rows).toEqual([['user_id', 'email', 'external_id', 'created_at', 'updated_at']]);
    const events = await exportThroughApi(b, { kind: 'events' });
    expect(events.rows).toHaveLength(1);
    const secret = await exportThroughApi(b, { kind: 'events', types: ['secret.event'] });
    expect(secret.rows).toHaveLength(1);
  });
});
