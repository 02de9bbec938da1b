import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { esmRequireBanner } from '../../infra/constructs/roster-function.js';
import { CSV_IMPORT_MEMORY_MB } from '../../infra/roster-stack.js';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { startDynamoDbLocal } from '../../infra/local/dynamodb-local.js';
import { freePort } from '../../infra/local/free-port.js';
import { LOCAL_REGION, localCredentials } from '../../infra/local/local-settings.js';
import { ensureTables } from '../../infra/local/provision.js';
import { startS3Local } from '../../infra/local/s3-local.js';
import { runCli, startProcess } from '../support/processes.js';
import { PropertyRegistry } from '../../shared/properties/property-registry.js';
import { localTableName, controlTable, eventsTable, usersTable } from '../../shared/storage/table-definitions.js';
import { DynamoJsonTransport } from '../../shared/aws/dynamo-json-transport.js';
import { DynamoUserStore } from '../../shared/users/dynamo-user-store.js';
import type { UserStore } from '../../shared/users/user-store.js';
import { FileBlobStore, generateCsv, lambdaHeapFlags, median, runBenchImport } from './bench-support.js';
import { startDynamoStandIn } from './dynamo-stand-in.js';
import { runResultChild } from './result-child.js';
import type { BenchReport } from './report.js';

const runImport = (path: string, users: UserStore, registry?: PropertyRegistry) => runBenchImport(new FileBlobStore(path), statSync(path).size, users, registry);

const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;

/** Each heap-sensitive figure is measured twice: with Node's default heap, and as Lambda sizes the importer's (figure name + `_lambda_heap`). */
const LAMBDA_HEAP = { suffix: '_lambda_heap', flags: lambdaHeapFlags(CSV_IMPORT_MEMORY_MB), label: `Lambda's heap flags for ${CSV_IMPORT_MEMORY_MB} MB (${lambdaHeapFlags(CSV_IMPORT_MEMORY_MB).join(' ')})` };
const HEAP_VARIANTS: Array<{ suffix: string; flags: string[]; label: string }> = [{ suffix: '', flags: [], label: "Node's default heap" }, LAMBDA_HEAP];

interface PipelineChildResult {
  results: Array<{ parse: number; pipeline: number; created: number }>;
  peakRssMb: number;
}

/** test/bench/pipeline-child.ts in a fresh process with these node flags. */
const runPipelineChild = (path: string, flags: string[]) =>
  runResultChild<PipelineChildResult>('pipeline child', process.execPath, [...flags, '--import', 'tsx', 'test/bench/pipeline-child.ts'], {
    BENCH_FILE: path,
    BENCH_ROUNDS: '3',
    POWERTOOLS_LOG_LEVEL: 'WARN',
  });

/**
 * Pipeline CPU throughput (decode → parse → map → coerce → build items, null sink) vs plain
 * csv-parse, same file, same process, alternating rounds: once with Node's default heap, once
 * with the heap flags Lambda gives the importer (the deployed configuration).
 */
async function pipelineVersusCsvParse(report: BenchReport, directory: string) {
  const megabytes = Number(process.env.BENCH_CSV_MB ?? 200);
  const path = join(directory, 'pipeline.csv');
  const rows = await generateCsv(path, megabytes);
  for (const { suffix, flags, label } of HEAP_VARIANTS) {
    const { results, peakRssMb } = await runPipelineChild(path, flags);
    if (results.some((result) => result.created !== rows)) throw new Error(`pipeline created ${JSON.stringify(results.map((result) => result.created))} of ${rows} rows`);
    const ratios = results.map((result) => result.pipeline / result.parse);
    report.figure(`csv_parse_rows_per_s${suffix}`, Math.round(median(results.map((result) => result.parse))), `plain csv-parse on a ${megabytes} MB file (${rows} rows), ${label}; median of ${results.length} rounds`);
    report.figure(`csv_pipeline_rows_per_s${suffix}`, Math.round(median(results.map((result) => result.pipeline))), `decode → parse → map → coerce → DynamoDB items, null sink; median; process peak RSS ${peakRssMb} MB`);
    report.figure(
      `csv_pipeline_vs_csv_parse${suffix}`,
      Number(median(ratios).toFixed(3)),
      `median of ${ratios.length} alternating rounds (each: ${ratios.map((ratio) => ratio.toFixed(3)).join(', ')}), target ≥ 0.6`,
    );
  }
}

/** Write units per new, changed and unchanged user, from DynamoDB Local's ConsumedCapacity. */
async function writeCost(report: BenchReport, directory: string) {
  const dynamo = await startDynamoDbLocal({ port: await freePort() });
  try {
    const raw = new DynamoDBClient({ endpoint: dynamo.endpoint, region: LOCAL_REGION, credentials: localCredentials });
    await ensureTables(raw, (definition) => localTableName(definition, 'bench'));
    const client = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
    const registry = new PropertyRegistry(client, localTableName(controlTable, 'bench'));
    const used = { read: 0, write: 0 };
    const users = new DynamoUserStore(new DynamoJsonTransport(raw), {
      usersTable: localTableName(usersTable, 'bench'),
      eventsTable: localTableName(eventsTable, 'bench'),
      onCapacity: (units, kind) => (used[kind] += units),
    });
    const count = 1000;
    const file = (plan: string) => `email,plan,visits\n${Array.from({ length: count }, (_, i) => `wcu${i}@example.com,${plan},${i}`).join('\n')}\n`;
    const measure = async (content: string) => {
      const path = join(directory, 'wcu.csv');
      writeFileSync(path, content);
      const before = { ...used };
      const { record } = await runImport(path, users, registry);
      return { record, write: (used.write - before.write) / count, read: (used.read - before.read) / count };
    };
    const created = await measure(file('gold'));
    const changed = await measure(file('silver'));
    const unchanged = await measure(file('silver'));
    if (created.record.counts.created !== count || changed.record.counts.updated !== count || unchanged.record.counts.unchanged !== count) {
      throw new Error('unexpected counts in the write-cost run');
    }
    report.figure('csv_wcu_per_new_user', Number(created.write.toFixed(2)), `profile + email lookup + user.created event; reads ${created.read.toFixed(2)} RCU/user`);
    report.figure('csv_wcu_per_changed_user', Number(changed.write.toFixed(2)), `profile + user.updated event; reads ${changed.read.toFixed(2)} RCU/user`);
    report.figure('csv_wcu_per_unchanged_user', Number(unchanged.write.toFixed(2)), `target 0; reads ${unchanged.read.toFixed(2)} RCU/user`);
    raw.destroy();
  } finally {
    await dynamo.stop();
  }
}

let bundledImporter: string | undefined;

/**
 * test/bench/one-core-import.ts bundled as the Lambda bundles are (esbuild, ESM, everything
 * inlined), so the pinned process runs plain JavaScript like the function does — no
 * TypeScript loader in its CPU time or memory.
 */
async function importerBundle(): Promise<string> {
  if (bundledImporter) return bundledImporter;
  const outfile = join(mkdtempSync(join(tmpdir(), 'roster-bench-bundle-')), 'one-core-import.mjs');
  await build({
    entryPoints: ['test/bench/one-core-import.ts'],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    mainFields: ['module', 'main'],
    banner: { js: esmRequireBanner },
    outfile,
    logLevel: 'error',
  });
  bundledImporter = outfile;
  return outfile;
}

/** Runs the bundled importer pinned to CPU 0 and returns its RESULT line. */
async function runPinnedImporter(env: Record<string, string>, nodeFlags: string[] = []): Promise<OneCoreResult> {
  return runResultChild<OneCoreResult>('pinned importer', 'taskset', ['-c', '0', process.execPath, ...nodeFlags, await importerBundle()], {
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    POWERTOOLS_LOG_LEVEL: 'WARN',
    ...env,
  });
}

interface OneCoreResult {
  results: Array<{ seconds: number; cpuSeconds: number; counts: { rows: number; created: number; updated: number; unchanged: number; failed: number } }>;
  peakRssMb: number;
}

/** Client-side rows/s on one core against a DynamoDB stand-in that answers after 10 ms. */
async function oneCore(report: BenchReport, directory: string) {
  const rows = Number(process.env.BENCH_ONE_CORE_ROWS ?? 100_000);
  const path = join(directory, 'one-core.csv');
  await generateCsv(path, 1024, { rows });
  const standIn = await startDynamoStandIn({ delayMs: 10 });
  try {
    const { results } = await runPinnedImporter({ AWS_ENDPOINT_URL_DYNAMODB: standIn.endpoint, BENCH_FILE: path, BENCH_PASSES: '2' });
    const [first, second] = results;
    if (first!.counts.created !== rows || second!.counts.unchanged !== rows) {
      throw new Error(`one-core run counts: ${JSON.stringify(results.map((result) => result.counts))}`);
    }
    // 3 items per new user (profile, email lookup, user.created), plus the one type-day marker
    // of user.created for each UTC day the run touches (two if it crosses midnight).
    const markers = standIn.stats.itemsWritten - rows * 3;
    if (markers < 1 || markers > 2) throw new Error(`the stand-in received ${standIn.stats.itemsWritten} items, expected ${rows * 3} and a marker`);
    report.figure('csv_rows_per_s_one_core_new', Math.round(rows / first!.seconds), `${rows} new users, taskset -c 0, stand-in answering after 10 ms; CPU ${first!.cpuSeconds.toFixed(1)} s; target ≥ 10,000`);
    report.figure('csv_rows_per_s_one_core_unchanged', Math.round(rows / second!.seconds), `re-import, zero writes; CPU ${second!.cpuSeconds.toFixed(1)} s; target ≥ 20,000`);
    report.note(`one-core requests to the stand-in: ${JSON.stringify(standIn.stats.requests)}`);
    // The same first import with the heap flags Lambda gives the importer (the deployed configuration).
    const [lambdaFirst] = (await runPinnedImporter({ AWS_ENDPOINT_URL_DYNAMODB: standIn.endpoint, BENCH_FILE: path, BENCH_PASSES: '1', BENCH_TENANT: 'bench-lambda' }, LAMBDA_HEAP.flags)).results;
    if (lambdaFirst!.counts.created !== rows) throw new Error(`one-core run under Lambda's heap flags created ${lambdaFirst!.counts.created} of ${rows}`);
    report.figure('csv_rows_per_s_one_core_new_lambda_heap', Math.round(rows / lambdaFirst!.seconds), `the same first import, ${LAMBDA_HEAP.label}; CPU ${lambdaFirst!.cpuSeconds.toFixed(1)} s`);
  } finally {
    await standIn.close();
  }
}

/** Peak RSS of the importer streaming a 1 GB upload from s3rver into the stand-in (which keeps nothing). */
async function oneGigabyteMemory(report: BenchReport, directory: string) {
  const megabytes = Number(process.env.BENCH_RSS_MB ?? 1024);
  const path = join(directory, 'big.csv');
  // Wide rows (a ~2 KB note each) keep the row count, and so the run time, reasonable.
  const rows = await generateCsv(path, megabytes, { padding: 1800 });
  const s3 = await startS3Local({ port: await freePort(), directory: join(directory, 's3') });
  const standIn = await startDynamoStandIn({ delayMs: 10, store: false });
  try {
    // WHEN_REQUIRED: otherwise the SDK streams the body aws-chunked with a checksum trailer, which s3rver stores verbatim.
    const client = new S3Client({ endpoint: s3.endpoint, region: LOCAL_REGION, credentials: localCredentials, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' });
    await client.send(new CreateBucketCommand({ Bucket: 'bench' }));
    await client.send(new PutObjectCommand({ Bucket: 'bench', Key: 'uploads/bench/big.csv', Body: createReadStream(path), ContentLength: statSync(path).size }));
    client.destroy();
    rmSync(path);
    const env = { AWS_ENDPOINT_URL_DYNAMODB: standIn.endpoint, AWS_ENDPOINT_URL_S3: s3.endpoint, BENCH_BUCKET: 'bench', BENCH_KEY: 'uploads/bench/big.csv' };
    // The stand-in keeps nothing, so the same upload imports as new users again.
    for (const { suffix, flags, label } of HEAP_VARIANTS) {
      const { results, peakRssMb } = await runPinnedImporter(env, flags);
      if (results[0]!.counts.created !== rows) throw new Error(`1 GB run created ${results[0]!.counts.created} of ${rows} users`);
      report.figure(`csv_import_1gb_peak_rss_mb${suffix}`, peakRssMb, `${megabytes} MB, ${rows} rows streamed from s3rver, ${Math.round(rows / results[0]!.seconds)} rows/s on one core, ${label}; target ≤ 256`);
    }
  } finally {
    await standIn.close();
    await s3.stop();
  }
}

/** End to end on the local stack: presigned PUT of a 100,000-row file → S3 event → importer → DynamoDB Local. */
async function localStack100k(report: BenchReport, directory: string) {
  const rows = Number(process.env.BENCH_LOCAL_ROWS ?? 100_000);
  const path = join(directory, 'local.csv');
  await generateCsv(path, 1024, { rows });
  const port = await freePort();
  const env = { PORT: String(port), ROSTER_DATA_DIR: join(directory, 'stack'), POWERTOOLS_LOG_LEVEL: 'WARN' };
  const stack = startProcess(process.execPath, ['--import', 'tsx', 'infra/local/start.ts'], env);
  try {
    await stack.waitFor(/Roster local stack ready on/, 120_000);
    const { apiKey } = runCli(['tenants', 'create', 'bench'], env).json() as { apiKey: string };
    const api = (route: string, init: RequestInit = {}) =>
      fetch(`http://127.0.0.1:${port}${route}`, { ...init, headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', ...init.headers } });
    const upload = (await (await api('/imports', { method: 'POST', body: JSON.stringify({ sizeBytes: statSync(path).size }) })).json()) as {
      importId: string;
      uploadUrl: string;
      uploadMethod: string;
      uploadHeaders: Record<string, string>;
    };
    const start = process.hrtime.bigint();
    const put = await fetch(upload.uploadUrl, { method: upload.uploadMethod, headers: upload.uploadHeaders, body: readFileSync(path) });
    if (!put.ok) throw new Error(`upload failed: ${put.status}`);
    let status: { status: string; counts: { created: number } } | undefined;
    for (;;) {
      status = (await (await api(`/imports/${upload.importId}`)).json()) as typeof status;
      if (status && !['waiting_upload', 'processing'].includes(status.status)) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const elapsed = seconds(start);
    if (status!.status !== 'completed' || status!.counts.created !== rows) throw new Error(`local import ended ${JSON.stringify(status)}`);
    report.figure('csv_local_100k_rows_per_s', Math.round(rows / elapsed), `${rows} rows, upload to completed, npm start's DynamoDB Local (bounds it)`);
  } finally {
    await stack.stop();
  }
}

export async function csvBench(report: BenchReport) {
  const directory = mkdtempSync(join(tmpdir(), 'roster-bench-csv-'));
  try {
    await pipelineVersusCsvParse(report, directory);
    await oneCore(report, directory);
    await oneGigabyteMemory(report, directory);
    await localStack100k(report, directory);
    await writeCost(report, directory);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}
