import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { build } from 'esbuild';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { esmDirnameBanner, esmRequireBanner } from '../../infra/constructs/roster-function.js';
import { startDynamoDbLocal } from '../../infra/local/dynamodb-local.js';
import { freePort } from '../../infra/local/free-port.js';
import { LOCAL_REGION, localCredentials, sdkEnvironment } from '../../infra/local/local-settings.js';
import { ensureTables } from '../../infra/local/provision.js';
import { controlTable, eventsTable, localTableName, usersTable } from '../../shared/storage/table-definitions.js';
import { POSTGRES_SYNC_MEMORY_MB } from '../../infra/roster-stack.js';
import { adminQuery, createDatabase, startPostgres } from '../support/postgres-server.js';
import { lambdaHeapFlags, median } from './bench-support.js';
import type { BenchReport } from './report.js';
import { runResultChild } from './result-child.js';

/**
 * The `postgres` group: a first sync of a 1,000,000-row table through the real sync engine
 * (its own bundled process, like the function), into the null sink and into DynamoDB Local,
 * against `COPY (query) TO STDOUT` of the same query on the same server in the same run:
 * the physical limit of reading those rows out of PostgreSQL into a Node process.
 */
const QUERY = 'SELECT email, first_name, plan, visits, vip, score, signed_up, tags, updated_at FROM customers';
/** The order the sync reads a first run in (so it can resume after the last key): for the ordered COPY reference. */
const ORDERED_QUERY = `SELECT * FROM (${QUERY}) AS s ORDER BY (COALESCE(s.email::text, '') COLLATE "C")`;
const SYNC_HEAP_FLAGS = lambdaHeapFlags(POSTGRES_SYNC_MEMORY_MB);
/** COPY and the sync alternate this many times; figures are medians over them. */
const ROUNDS = 3;
const tables = { CONTROL_TABLE: localTableName(controlTable, 'bench'), USERS_TABLE: localTableName(usersTable, 'bench'), EVENTS_TABLE: localTableName(eventsTable, 'bench') };

async function bundleChild(): Promise<string> {
  const outfile = join(mkdtempSync(join(tmpdir(), 'roster-bench-pg-')), 'child.mjs');
  await build({
    entryPoints: ['test/bench/postgres-sync-child.ts'],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    mainFields: ['module', 'main'],
    banner: { js: `${esmRequireBanner} ${esmDirnameBanner}` },
    outfile,
    logLevel: 'error',
  });
  // libpg-query reads its WASM from beside the bundle, as in the function.
  copyFileSync('node_modules/libpg-query/wasm/libpg-query.wasm', join(outfile, '..', 'libpg-query.wasm'));
  return outfile;
}

/** Reads the COPY text of the query to the end (bytes counted, nothing kept). */
async function copyBaseline(url: string, query = QUERY): Promise<{ seconds: number; bytes: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const start = process.hrtime.bigint();
    const stream = client.query(copyTo(`COPY (${query}) TO STDOUT`));
    let bytes = 0;
    for await (const chunk of stream) bytes += (chunk as Buffer).length;
    return { seconds: Number(process.hrtime.bigint() - start) / 1e9, bytes };
  } finally {
    await client.end();
  }
}

interface ChildResult {
  status: string;
  error?: { message: string };
  counts: { rows: number; created: number; failed: number };
  seconds: number;
  peakRssMb: number;
}

async function runChild(child: string, environment: Record<string, string>, heapFlags: string[] = []): Promise<ChildResult> {
  const flags = process.env.BENCH_PG_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PG_PROFILE}`] : [];
  const result = await runResultChild<ChildResult>('sync child', process.execPath, [...heapFlags, ...flags, child], { ...environment, POWERTOOLS_LOG_LEVEL: 'ERROR' });
  if (result.status !== 'succeeded') throw new Error(`bench sync ${result.status}: ${result.error?.message}`);
  return result;
}

export async function postgresBench(report: BenchReport) {
  const rows = Number(process.env.BENCH_PG_ROWS ?? 1_000_000);
  // DynamoDB Local (one Java process) takes ~1,500 new users/s here: 1M rows would take 11 minutes, so the bench writes 200,000 unless told.
  const dynamoRows = Number(process.env.BENCH_PG_DYNAMO_ROWS ?? Math.min(rows, 200_000));
  const server = await startPostgres();
  const dynamo = await startDynamoDbLocal({ port: await freePort() });
  try {
    const raw = new DynamoDBClient({ endpoint: dynamo.endpoint, region: LOCAL_REGION, credentials: localCredentials });
    await ensureTables(raw, (definition) => localTableName(definition, 'bench'));
    raw.destroy();
    await createDatabase(server.url(), 'bench');
    const url = server.url('bench');
    const seed = async (table: string, count: number) =>
      adminQuery(
        url,
        `CREATE TABLE ${table} (id integer PRIMARY KEY, email text, first_name text, plan text, visits integer, vip boolean, score numeric, signed_up timestamptz, tags text[], updated_at timestamptz);
         INSERT INTO ${table} SELECT g, 'user' || g || '@example.com', 'First' || (g % 977), CASE WHEN g % 3 = 0 THEN 'gold' ELSE 'free' END, g % 500, g % 2 = 0,
           (g % 1000) / 10.0, timestamptz '2024-01-01 00:00:00+00' + (g % 86400) * interval '1 second', ARRAY['a', 'b' || (g % 7)], now() - interval '1 day'
         FROM generate_series(1, ${count}) g;
         ANALYZE ${table};`,
      );
    await seed('customers', rows);
    const child = await bundleChild();
    const environment = (sink: string, tenant: string, query = QUERY) => ({
      ...sdkEnvironment({ dynamodb: dynamo.endpoint, s3: 'http://127.0.0.1:1', secretsManager: 'http://127.0.0.1:1', scheduler: 'http://127.0.0.1:1' }),
      ...tables,
      BENCH_PG_URL: `${url}?sslmode=disable`,
      BENCH_PG_QUERY: query,
      BENCH_SINK: sink,
      BENCH_TENANT: tenant,
    });

    // COPY and the sync alternate for ROUNDS rounds; each figure is the median of the rounds, each
    // ratio the median of the per-round ratios (these machines are noisy). The sync runs once
    // with Node's default heap and once with the flags Lambda gives the function.
    const rounds: Array<{ copy: number; orderedCopy: number; sync: ChildResult; lambdaSync: ChildResult }> = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      const copy = rows / (await copyBaseline(url)).seconds;
      const orderedCopy = rows / (await copyBaseline(url, ORDERED_QUERY)).seconds;
      const sync = await runChild(child, environment('null', `bench-null-${round}`));
      const lambdaSync = await runChild(child, environment('null', `bench-lambda-${round}`), SYNC_HEAP_FLAGS);
      for (const result of [sync, lambdaSync]) if (result.counts.created !== rows) throw new Error(`null-sink sync created ${result.counts.created} of ${rows}`);
      rounds.push({ copy, orderedCopy, sync, lambdaSync });
    }
    const read = await runChild(child, environment('read', 'bench-read'));
    const rate = (result: ChildResult) => rows / result.seconds;
    const ratios = (pick: (round: (typeof rounds)[number]) => ChildResult) => rounds.map((round) => rate(pick(round)) / round.copy);
    const describe = (values: number[]) => values.map((value) => value.toFixed(3)).join(', ');
    const syncRatios = ratios((round) => round.sync);
    const lambdaRatios = ratios((round) => round.lambdaSync);
    const copyRate = median(rounds.map((round) => round.copy));
    report.figure('pg_copy_rows_per_s', Math.round(copyRate), `COPY (query) TO STDOUT read by a Node client, ${rows} rows, 9 columns (text, int, bool, numeric, timestamptz, text[]); median of ${ROUNDS}`);
    report.figure('pg_copy_ordered_rows_per_s', Math.round(median(rounds.map((round) => round.orderedCopy))), 'COPY of the same query in the order a first sync reads it (by email, so a run can resume after its last key): the sort is the server’s');
    report.figure('pg_cursor_read_rows_per_s', Math.round(rate(read)), 'the same ordered query through the read-only session and cursor, rows parsed, no processing: the driver’s ceiling');
    report.figure('pg_sync_null_rows_per_s', Math.round(median(rounds.map((round) => rate(round.sync)))), "cursor (2,000-row batches, ordered by email for resumption) → coerce → upsert path → DynamoDB items, null sink, Node's default heap");
    report.figure('pg_sync_vs_copy', Number(median(syncRatios).toFixed(3)), `null-sink sync vs COPY, median of ${ROUNDS} alternating rounds (each: ${describe(syncRatios)}); target ≥ 0.5`);
    report.figure('pg_sync_null_rows_per_s_lambda_heap', Math.round(median(rounds.map((round) => rate(round.lambdaSync)))), `the same, with the heap flags Lambda gives the ${POSTGRES_SYNC_MEMORY_MB} MB function (${SYNC_HEAP_FLAGS.join(' ')})`);
    report.figure('pg_sync_vs_copy_lambda_heap', Number(median(lambdaRatios).toFixed(3)), `under Lambda’s heap flags, median of ${ROUNDS} (each: ${describe(lambdaRatios)}); target ≥ 0.5`);
    const syncs = rounds.map((round) => round.sync);
    const lambdaSyncs = rounds.map((round) => round.lambdaSync);
    report.figure('pg_sync_1m_peak_rss_mb', Math.max(...syncs.map((result) => result.peakRssMb)), `peak RSS of the sync process over the ${rows}-row run; target ≤ 256`);
    report.figure('pg_sync_1m_peak_rss_mb_lambda_heap', Math.max(...lambdaSyncs.map((result) => result.peakRssMb)), `the same under Lambda’s heap flags; target ≤ 256`);

    const query = dynamoRows === rows ? QUERY : `${QUERY} WHERE id <= ${dynamoRows}`;
    const dynamoResult = await runChild(child, environment('dynamo', 'bench-dynamo', query));
    if (dynamoResult.counts.created !== dynamoRows) throw new Error(`DynamoDB sync created ${dynamoResult.counts.created} of ${dynamoRows}`);
    report.figure('pg_sync_dynamodb_rows_per_s', Math.round(dynamoRows / dynamoResult.seconds), `${dynamoRows} new users into DynamoDB Local (one Java process on this machine: its ceiling, not DynamoDB's)`);
    report.figure('pg_sync_dynamodb_peak_rss_mb', dynamoResult.peakRssMb, 'peak RSS of the sync process writing to DynamoDB Local');
  } finally {
    await dynamo.stop();
    await server.stop();
  }
}
