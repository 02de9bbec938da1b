import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { csvBench } from './csv-bench.js';
import { postgresBench } from './postgres-bench.js';
import { salesforceBench } from './salesforce-bench.js';
import { coldStartBench } from './cold-start-bench.js';
import { eventsBench, exportsBench } from './exports-events-bench.js';
import { BenchReport } from './report.js';

/**
 * `npm run bench [-- --only <group>]`: runs the benchmark groups, prints every figure as
 * `figure: <name>=<value>`, and writes bench-results/latest.md. Groups not built yet say so.
 */
const groups: Record<string, ((report: BenchReport) => Promise<void>) | undefined> = {
  csv: csvBench,
  exports: exportsBench,
  events: eventsBench,
  postgres: postgresBench,
  salesforce: salesforceBench,
  'cold-start': coldStartBench,
};

const { values } = parseArgs({ options: { only: { type: 'string' } } });
const selected = values.only ? [values.only] : Object.keys(groups);
const unknown = selected.filter((name) => !(name in groups));
if (unknown.length > 0) {
  console.error(`unknown bench group: ${unknown.join(', ')} (groups: ${Object.keys(groups).join(', ')})`);
  process.exit(2);
}
const report = new BenchReport();
for (const name of selected) {
  const run = groups[name];
  if (!run) {
    console.log(`bench group ${name}: not built yet`);
    continue;
  }
  report.group = name;
  console.log(`bench group ${name}…`);
  await run(report);
}
console.log(`report: ${report.write(resolve('bench-results'))}`);
