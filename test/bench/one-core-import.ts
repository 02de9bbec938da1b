import { statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { s3Client } from '../../shared/aws/clients.js';
import type { BlobStore } from '../../shared/storage/blob-store.js';
import { S3BlobStore } from '../../shared/storage/s3-blob-store.js';
import { userStore } from '../../shared/wiring/stores.js';
import { FileBlobStore, runBenchImport } from './bench-support.js';

/**
 * One importer process, run by the bench under `taskset -c 0` (one core, about a 1,769 MB
 * Lambda): the real upsert path and the real SDK client (`shared/wiring`), talking to the
 * DynamoDB stand-in given by AWS_ENDPOINT_URL_DYNAMODB. The file is a local path
 * (BENCH_FILE) or an S3 object (BENCH_BUCKET + BENCH_KEY, streamed from s3rver).
 * Runs BENCH_PASSES imports of the same file for tenant BENCH_TENANT (default `bench`) and
 * prints one `RESULT <json>` line.
 */
/** Reads one fixed object whatever key the importer asks for (the upload was placed beforehand). */
class FixedObjectBlobStore extends S3BlobStore {
  constructor(private readonly objectKey: string, bucket: string) {
    super(s3Client(), bucket);
  }
  override read(_key: string, range?: { start: number; end?: number }): Promise<Readable> {
    return super.read(this.objectKey, range);
  }
  override size(): Promise<number | undefined> {
    return super.size(this.objectKey);
  }
}

const file = process.env.BENCH_FILE;
const blobs: BlobStore = file ? new FileBlobStore(file) : new FixedObjectBlobStore(process.env.BENCH_KEY!, process.env.BENCH_BUCKET!);
const size = file ? statSync(file).size : (await blobs.size(''))!;
const users = userStore({ USERS_TABLE: 'users', EVENTS_TABLE: 'events' });
const passes = Number(process.env.BENCH_PASSES ?? 1);
const results: Array<{ seconds: number; counts: object; cpuSeconds: number }> = [];
let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 100);

for (let pass = 0; pass < passes; pass += 1) {
  const { outcome, record, seconds, cpuSeconds } = await runBenchImport(blobs, size, users, undefined, process.env.BENCH_TENANT ?? 'bench');
  if (outcome !== 'completed') throw new Error(`import pass ${pass} ended ${outcome}: ${JSON.stringify(record.error ?? record.status)}`);
  results.push({ seconds, counts: record.counts, cpuSeconds });
}
clearInterval(sampler);
peakRss = Math.max(peakRss, process.memoryUsage.rss(), process.resourceUsage().maxRSS * 1024);
console.log(`RESULT ${JSON.stringify({ results, peakRssMb: Math.round(peakRss / 1024 / 1024) })}`);
