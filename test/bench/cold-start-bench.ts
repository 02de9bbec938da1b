import { execSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { esmDirnameBanner, esmRequireBanner, lazyChunkCommand, type LazyChunk } from '../../infra/constructs/roster-function.js';
import type { BenchReport } from './report.js';

/**
 * The `cold-start` group: each function bundled as the CDK stack bundles it (RosterFunction:
 * ESM, node22, module-first, minified, the require shim, the WASM beside the bundles that
 * parse SQL), its size, and its module initialisation time: a fresh `node` process importing
 * the bundle with the environment the stack gives it, median of several runs.
 */
const FUNCTIONS: Array<{ name: string; target: { bundleKb: number; initMs?: number }; wasm?: boolean; lazyChunks?: LazyChunk[] }> = [
  // As the stack builds it: the integration routes' modules are chunks beside the bundle, loaded on first use.
  {
    name: 'api',
    target: { bundleKb: 1024, initMs: 150 },
    wasm: true, lazyChunks: [
      { name: 'salesforce', entry: 'shared/integrations/salesforce/salesforce-wiring.ts' },
      { name: 'postgres', entry: 'shared/integrations/postgres/postgres-integration-service.ts', dirname: true },
    ],
  },
  { name: 'authorizer', target: { bundleKb: 1024 } },
  { name: 'csv-import', target: { bundleKb: 3072 } },
  { name: 'export', target: { bundleKb: 3072 } },
  { name: 'postgres-sync', target: { bundleKb: 3072 }, wasm: true },
  { name: 'salesforce-sync', target: { bundleKb: 3072 } },
];

const ENVIRONMENT = {
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  CONTROL_TABLE: 'roster-control',
  USERS_TABLE: 'roster-users',
  EVENTS_TABLE: 'roster-events',
  DATA_BUCKET: 'roster-data',
  EXPORT_FUNCTION_NAME: 'roster-export',
  POSTGRES_SYNC_FUNCTION_NAME: 'roster-postgres-sync',
  POSTGRES_SYNC_FUNCTION_ARN: 'arn:aws:lambda:eu-west-1:123456789012:function:roster-postgres-sync',
  SALESFORCE_SYNC_FUNCTION_NAME: 'roster-salesforce-sync',
  SALESFORCE_SYNC_FUNCTION_ARN: 'arn:aws:lambda:eu-west-1:123456789012:function:roster-salesforce-sync',
  SALESFORCE_APP_SECRET_NAME: 'roster/platform/salesforce-app',
  SCHEDULE_GROUP: 'Roster-syncs',
  SCHEDULER_ROLE_ARN: 'arn:aws:iam::123456789012:role/roster-scheduler',
  ROSTER_ALLOW_PRIVATE_HOSTS: 'false',
  NODE_OPTIONS: '--enable-source-maps',
  POWERTOOLS_LOG_LEVEL: 'ERROR',
};

const RUNS = 15;

export async function coldStartBench(report: BenchReport) {
  const rows: string[] = [];
  for (const fn of FUNCTIONS) {
    const directory = mkdtempSync(join(tmpdir(), `roster-bench-${fn.name}-`));
    const outfile = join(directory, 'index.mjs');
    await build({
      entryPoints: [`functions/${fn.name}/handler.ts`],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      mainFields: ['module', 'main'],
      banner: { js: fn.wasm ? `${esmRequireBanner} ${esmDirnameBanner}` : esmRequireBanner },
      minify: true,
      sourcemap: true,
      sourcesContent: false,
      define: { 'process.env.ROSTER_BUNDLED': '"true"' },
      outfile,
      logLevel: 'error',
    });
    const chunkKb: string[] = [];
    for (const chunk of fn.lazyChunks ?? []) {
      execSync(lazyChunkCommand(chunk, join(directory, `${chunk.name}.mjs`)), { stdio: 'inherit' });
      chunkKb.push(`${chunk.name}.mjs ${Math.round(statSync(join(directory, `${chunk.name}.mjs`)).size / 1024)} KB`);
    }
    if (fn.wasm) copyFileSync('node_modules/libpg-query/wasm/libpg-query.wasm', join(directory, 'libpg-query.wasm'));
    const bundleKb = Math.round(statSync(outfile).size / 1024);
    const times: number[] = [];
    for (let run = 0; run < RUNS; run += 1) {
      const child = spawnSync(
        process.execPath,
        ['--input-type=module', '-e', `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(outfile).href)}); console.log('INIT ' + (performance.now() - t));`],
        { env: { PATH: process.env.PATH, ...ENVIRONMENT }, encoding: 'utf8' },
      );
      const line = child.stdout.split('\n').find((candidate) => candidate.startsWith('INIT '));
      if (child.status !== 0 || !line) throw new Error(`${fn.name} did not initialise: ${child.stderr.slice(-2000)}`);
      times.push(Number(line.slice(5)));
    }
    times.sort((a, b) => a - b);
    const initMs = Math.round(times[Math.floor(times.length / 2)]!);
    const initTarget = fn.target.initMs ? `target ≤ ${fn.target.initMs} ms` : 'report';
    report.figure(`init_ms_${fn.name.replace(/-/g, '_')}`, initMs, `median of ${RUNS} fresh processes importing the bundle; ${initTarget}`);
    report.figure(`bundle_kb_${fn.name.replace(/-/g, '_')}`, bundleKb, `minified ESM bundle (source map beside it); target ≤ ${fn.target.bundleKb} KB${fn.wasm ? ' (+ 1,678 KB libpg-query.wasm, loaded on first use)' : ''}${chunkKb.length > 0 ? ` (+ ${chunkKb.join(', ')}, a chunk loaded on first use)` : ''}`);
    rows.push(`${fn.name} ${bundleKb} KB${chunkKb.length > 0 ? ` (+ ${chunkKb.join(', ')})` : ''}, ${initMs} ms`);
  }
  report.note(`cold start (module init only; Lambda adds its own runtime start): ${rows.join('; ')}`);
}
