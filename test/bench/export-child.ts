import { exportSource, exportStore, propertyRegistry, blobStore, userStore } from '../../shared/wiring/stores.js';
import { runExport } from '../../shared/exports/export-run.js';

/**
 * One export-function process, run by the bench as a bundle (like the deployed function):
 * runs the export BENCH_EXPORT_ID of BENCH_TENANT to the end against the endpoints in the
 * SDK variables and prints one `RESULT <json>` line with its time and peak RSS.
 */
const env = { CONTROL_TABLE: process.env.CONTROL_TABLE!, USERS_TABLE: process.env.USERS_TABLE!, EVENTS_TABLE: process.env.EVENTS_TABLE!, DATA_BUCKET: process.env.DATA_BUCKET! };
const deps = {
  exports: exportStore(env),
  source: exportSource(env),
  users: userStore(env),
  registry: propertyRegistry(env),
  blobs: blobStore(env),
  continueLater: async () => {
    throw new Error('the bench export must finish in one invocation');
  },
};
let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 50);
const start = process.hrtime.bigint();
const outcome = await runExport(deps, { kind: 'export', tenantId: process.env.BENCH_TENANT!, exportId: process.env.BENCH_EXPORT_ID! }, () => 15 * 60_000);
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
clearInterval(sampler);
peakRss = Math.max(peakRss, process.memoryUsage.rss(), process.resourceUsage().maxRSS * 1024);
console.log(`RESULT ${JSON.stringify({ outcome, seconds, peakRssMb: Math.round(peakRss / 1024 / 1024) })}`);
