import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Readable } from 'node:stream';
import { build } from 'esbuild';
import { esmRequireBanner } from '../../infra/constructs/roster-function.js';
import { startDynamoDbLocal } from '../../infra/local/dynamodb-local.js';
import { freePort } from '../../infra/local/free-port.js';
import { lambdaContext } from '../../infra/local/lambda-context.js';
import { LOCAL_REGION, localCredentials, sdkEnvironment } from '../../infra/local/local-settings.js';
import { ensureTables } from '../../infra/local/provision.js';
import { startS3Local } from '../../infra/local/s3-local.js';
import { DynamoJsonTransport } from '../../shared/aws/dynamo-json-transport.js';
import { ingestEvents } from '../../shared/events/event-service.js';
import { exportKey } from '../../shared/exports/export-record.js';
import { DynamoExportStore } from '../../shared/exports/export-store.js';
import { newExportId } from '../../shared/exports/export-service.js';
import { PropertyRegistry } from '../../shared/properties/property-registry.js';
import { controlTable, eventsTable, localTableName, usersTable } from '../../shared/storage/table-definitions.js';
import { DynamoUserDirectory } from '../../shared/users/dynamo-user-directory.js';
import { DynamoUserStore } from '../../shared/users/dynamo-user-store.js';
import { derivedUserId } from '../../shared/users/user.js';
import { apiEvent } from '../support/api-events.js';
import type { BenchReport } from './report.js';
import { runResultChild } from './result-child.js';

/**
 * The `exports` and `events` groups: a 100,000-user export (rows/s and peak RSS of the
 * export function's own process, streaming from DynamoDB Local into s3rver), and event
 * ingestion through the API handler into DynamoDB Local in 100-event batches, with write
 * units per event from DynamoDB's ConsumedCapacity.
 */
const tables = { CONTROL_TABLE: localTableName(controlTable, 'bench'), USERS_TABLE: localTableName(usersTable, 'bench'), EVENTS_TABLE: localTableName(eventsTable, 'bench') };
const BUCKET = 'bench-data';

async function withServers<T>(run: (servers: { dynamodb: string; s3: string; raw: DynamoDBClient }) => Promise<T>): Promise<T> {
  const directory = mkdtempSync(join(tmpdir(), 'roster-bench-export-'));
  const dynamo = await startDynamoDbLocal({ port: await freePort() });
  const s3 = await startS3Local({ port: await freePort(), directory: join(directory, 's3') });
  const raw = new DynamoDBClient({ endpoint: dynamo.endpoint, region: LOCAL_REGION, credentials: localCredentials });
  try {
    await ensureTables(raw, (definition) => localTableName(definition, 'bench'));
    const client = new S3Client({ endpoint: s3.endpoint, region: LOCAL_REGION, credentials: localCredentials, forcePathStyle: true });
    await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
    client.destroy();
    return await run({ dynamodb: dynamo.endpoint, s3: s3.endpoint, raw });
  } finally {
    raw.destroy();
    await s3.stop();
    await dynamo.stop();
    rmSync(directory, { recursive: true, force: true });
  }
}

async function bundle(entry: string): Promise<string> {
  const outfile = join(mkdtempSync(join(tmpdir(), 'roster-bench-bundle-')), 'child.mjs');
  await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', target: 'node20', mainFields: ['module', 'main'], banner: { js: esmRequireBanner }, outfile, logLevel: 'error' });
  return outfile;
}

async function countLines(body: Readable): Promise<number> {
  let lines = 0;
  for await (const chunk of body) for (const byte of chunk as Buffer) if (byte === 0x0a) lines += 1;
  return lines;
}

export async function exportsBench(report: BenchReport) {
  const count = Number(process.env.BENCH_EXPORT_USERS ?? 100_000);
  await withServers(async ({ dynamodb, s3, raw }) => {
    const tenantId = 'bench';
    const users = new DynamoUserStore(new DynamoJsonTransport(raw), { usersTable: tables.USERS_TABLE, eventsTable: tables.EVENTS_TABLE, concurrency: 32 });
    const documents = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
    const registry = new PropertyRegistry(documents, tables.CONTROL_TABLE);
    const names = ['plan', 'city', 'visits', 'vip', 'joined'];
    await registry.ensure(tenantId, names, 'csv');
    const seedStart = process.hrtime.bigint();
    const now = new Date().toISOString();
    for (let start = 0; start < count; start += 5000) {
      const profiles = Array.from({ length: Math.min(5000, count - start) }, (_, offset) => {
        const i = start + offset;
        const email = `user${i}@example.com`;
        return { userId: derivedUserId(tenantId, email), email, properties: { plan: i % 3 ? 'gold' : 'silver', city: 'Zürich', visits: i, vip: i % 7 === 0, joined: '2024-05-01' }, createdAt: now, updatedAt: now };
      });
      await users.write(tenantId, { profiles, emailClaims: [], events: [] });
    }
    report.note(`seeded ${count} users into DynamoDB Local in ${(Number(process.hrtime.bigint() - seedStart) / 1e9).toFixed(1)} s`);
    const exportId = newExportId();
    await new DynamoExportStore(documents, tables.CONTROL_TABLE).create({ exportId, tenantId, spec: { kind: 'users' }, status: 'processing', createdAt: now, rows: 0, leaseExpiresAt: 0, failures: 0 });

    const result = await runResultChild<{ outcome: string; seconds: number; peakRssMb: number }>('export child', process.execPath, [await bundle('test/bench/export-child.ts')], {
      ...sdkEnvironment({ dynamodb, s3, secretsManager: 'http://127.0.0.1:1', scheduler: 'http://127.0.0.1:1' }),
      ...tables,
      DATA_BUCKET: BUCKET,
      BENCH_TENANT: tenantId,
      BENCH_EXPORT_ID: exportId,
      POWERTOOLS_LOG_LEVEL: 'WARN',
    });
    if (result.outcome !== 'completed') throw new Error(`export ended ${result.outcome}`);
    // The file itself proves the count: a header and one line per user.
    const client = new S3Client({ endpoint: s3, region: LOCAL_REGION, credentials: localCredentials, forcePathStyle: true });
    const { Body, ContentLength } = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: exportKey(tenantId, exportId) }));
    const lines = await countLines(Body as Readable);
    client.destroy();
    if (lines !== count + 1) throw new Error(`the export file has ${lines} lines, expected ${count + 1}`);
    report.figure('export_100k_rows_per_s', Math.round(count / result.seconds), `${count} users, 5 properties, DynamoDB Local → csv-stringify → multipart upload to s3rver; ${(ContentLength! / 1024 / 1024).toFixed(1)} MB file`);
    report.figure('export_100k_peak_rss_mb', result.peakRssMb, 'the export process (bundled, as deployed); target flat, ≤ 200');
  });
}

export async function eventsBench(report: BenchReport) {
  const total = Number(process.env.BENCH_EVENTS ?? 50_000);
  const concurrency = 4;
  await withServers(async ({ dynamodb, s3, raw }) => {
    Object.assign(process.env, sdkEnvironment({ dynamodb, s3, secretsManager: 'http://127.0.0.1:1', scheduler: 'http://127.0.0.1:1' }), tables, { DATA_BUCKET: BUCKET, EXPORT_FUNCTION_NAME: 'bench-export', POWERTOOLS_LOG_LEVEL: 'WARN' });
    const { handler } = await import('../../functions/api/handler.js');
    const tenantId = 'bench';
    const userCount = 1000;
    const users = new DynamoUserStore(new DynamoJsonTransport(raw), { usersTable: tables.USERS_TABLE, eventsTable: tables.EVENTS_TABLE, concurrency: 32 });
    const now = new Date().toISOString();
    const profiles = Array.from({ length: userCount }, (_, i) => ({ userId: derivedUserId(tenantId, `ev${i}@example.com`), email: `ev${i}@example.com`, properties: {}, createdAt: now, updatedAt: now }));
    await users.write(tenantId, { profiles, emailClaims: [], events: [] });
    const batch = (call: number) => ({
      events: Array.from({ length: 100 }, (_, i) => ({ userId: profiles[(call * 100 + i) % userCount]!.userId, type: i % 2 ? 'page.viewed' : 'order.placed', properties: { n: i, path: '/pricing' } })),
    });
    const calls = Math.ceil(total / 100);
    let next = 0;
    let accepted = 0;
    const start = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < calls) {
          const call = next++;
          const result = await handler(apiEvent({ method: 'POST', path: '/events', tenantId, body: batch(call) }), lambdaContext('roster-api'));
          if (result.statusCode !== 202) throw new Error(`POST /events answered ${result.statusCode}: ${result.body}`);
          accepted += (JSON.parse(result.body!) as { accepted: number }).accepted;
        }
      }),
    );
    const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    if (accepted !== calls * 100) throw new Error(`accepted ${accepted} of ${calls * 100} events`);
    report.figure('events_per_s', Math.round(accepted / elapsed), `${accepted} events in ${calls} POST /events calls of 100, ${concurrency} at a time, API handler in-process → DynamoDB Local`);

    // Write units per event, from ConsumedCapacity, through the same ingestion code.
    let units = 0;
    const counted = new DynamoUserStore(new DynamoJsonTransport(raw), { usersTable: tables.USERS_TABLE, eventsTable: tables.EVENTS_TABLE, onCapacity: (used, kind) => void (kind === 'write' && (units += used)) });
    const directory = new DynamoUserDirectory(DynamoDBDocumentClient.from(raw), new DynamoJsonTransport(raw), { usersTable: tables.USERS_TABLE, eventsTable: tables.EVENTS_TABLE });
    const measured = 20;
    for (let call = 0; call < measured; call += 1) await ingestEvents({ users: counted, directory }, tenantId, batch(call).events);
    report.figure('events_wcu_per_event', Number((units / (measured * 100)).toFixed(2), ), 'the event item and its byTypeDay index entry (plus one type-day marker per type, day and process)');
  });
}
