import { createReadStream, statSync } from 'node:fs';
import { parse } from 'csv-parse';
import { FileBlobStore, NullSinkUserStore, runBenchImport } from './bench-support.js';

/**
 * One process of the pipeline-versus-csv-parse figure: plain csv-parse and the import
 * pipeline (null sink) on BENCH_FILE, alternating for BENCH_ROUNDS rounds, in a fresh
 * process whose heap flags the bench chooses (Node's defaults, or Lambda's). Prints one
 * `RESULT <json>` line with each round's rates and the process's peak RSS.
 */
const path = process.env.BENCH_FILE!;
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;
const results: Array<{ parse: number; pipeline: number; created: number }> = [];
for (let round = 0; round < rounds; round += 1) {
  let start = process.hrtime.bigint();
  let parsed = 0;
  for await (const _record of createReadStream(path, { highWaterMark: 256 * 1024 }).pipe(parse())) parsed += 1;
  const parseRate = parsed / seconds(start);
  start = process.hrtime.bigint();
  const sink = new NullSinkUserStore();
  const { record } = await runBenchImport(new FileBlobStore(path), statSync(path).size, sink);
  results.push({ parse: parseRate, pipeline: record.counts.rows / seconds(start), created: record.counts.created });
}
console.log(`RESULT ${JSON.stringify({ results, peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) })}`);
