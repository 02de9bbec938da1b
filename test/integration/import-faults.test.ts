import { Transform, type Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { defaultImportRunSettings, runCsvImport } from '../../shared/imports/csv-import-run.js';
import { createImport, getImport } from '../../shared/imports/import-service.js';
import { uploadKey } from '../../shared/imports/upload-key.js';
import type { BlobStore } from '../../shared/storage/blob-store.js';
import { userStore } from '../../shared/wiring/stores.js';
import { allUsers, blobs, env, imports, registry, uniqueTenant } from '../support/import-harness.js';

/**
 * S3 failing in the middle of a file (a reset connection while the importer streams the
 * object from s3rver): the attempt throws, Lambda's retry of the same S3 event resumes
 * from the last checkpoint, and the import completes with exact counts and no duplicates.
 * s3rver cannot break a stream on demand, so the fault wraps the real stream it serves.
 */
class StreamBreakingBlobStore implements BlobStore {
  broken = 0;
  constructor(
    private readonly inner: BlobStore,
    private readonly breakAfterBytes: number,
    private breaksLeft: number,
  ) {}
  async read(key: string, range?: { start: number; end?: number }): Promise<Readable> {
    const source = await this.inner.read(key, range);
    if (this.breaksLeft === 0 || range?.end !== undefined) return source;
    this.breaksLeft -= 1;
    let seen = 0;
    const onBreak = () => (this.broken += 1);
    const breakAfterBytes = this.breakAfterBytes;
    const breaker = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        seen += chunk.length;
        if (seen > breakAfterBytes) {
          onBreak();
          done(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', name: 'TimeoutError' }));
          return;
        }
        done(null, chunk);
      },
    });
    source.on('error', (error) => breaker.destroy(error));
    return source.pipe(breaker);
  }
  size = (key: string) => this.inner.size(key);
  put = (key: string, body: string | Buffer, contentType: string) => this.inner.put(key, body, contentType);
  upload = (key: string, body: Readable, contentType: string) => this.inner.upload(key, body, contentType);
  copy = (from: string, to: string) => this.inner.copy(from, to);
  delete = (keys: string[]) => this.inner.delete(keys);
  presignPut = (key: string, options: Parameters<BlobStore['presignPut']>[1]) => this.inner.presignPut(key, options);
  presignGet = (key: string, options: Parameters<BlobStore['presignGet']>[1]) => this.inner.presignGet(key, options);
}

describe('S3 read errors mid-stream', () => {
  it('the attempt fails, the retry of the same event resumes from the checkpoint, and every row lands exactly once', async () => {
    const tenantId = uniqueTenant('fault');
    const rows = 20_000;
    const csv = `email,plan,visits\n${Array.from({ length: rows }, (_, i) => `fault${i}@example.com,${i % 2 ? 'gold' : 'free'},${i}`).join('\n')}\n`;
    const created = await createImport({ imports, blobs, maxUploadBytes: 5 * 1024 ** 3 }, tenantId, {});
    const importId = created.body.importId;
    await blobs.put(uploadKey(tenantId, importId), Buffer.from(csv), 'text/csv');
    const faulty = new StreamBreakingBlobStore(blobs, 300_000, 2);
    const deps = { imports, users: userStore(env), registry, blobs: faulty, continueLater: async () => undefined };
    const trigger = { kind: 'upload' as const, tenantId, importId, size: Buffer.byteLength(csv), sequencer: 'seq-fault' };
    // Checkpoints after every batch, so a retry resumes from the middle.
    const settings = { ...defaultImportRunSettings, saveEveryMs: 0 };

    await expect(runCsvImport(deps, trigger, () => 15 * 60_000, settings)).rejects.toThrow(/ECONNRESET/);
    const between = (await imports.get(tenantId, importId))!;
    expect(between.status).toBe('processing');
    expect(between.counts.rows).toBeGreaterThan(0);
    expect(between.counts.rows).toBeLessThan(rows);
    // The second attempt breaks again further on; the third gets through.
    await expect(runCsvImport(deps, trigger, () => 15 * 60_000, settings)).rejects.toThrow(/ECONNRESET/);
    expect(await runCsvImport(deps, trigger, () => 15 * 60_000, settings)).toBe('completed');
    expect(faulty.broken).toBe(2);

    const record = (await imports.get(tenantId, importId))!;
    expect(record).toMatchObject({ status: 'completed', counts: { rows, created: rows, updated: 0, unchanged: 0, failed: 0 }, errorCount: 0 });
    const users = await allUsers(tenantId);
    expect(users).toHaveLength(rows);
    expect(new Set(users.map((user) => user.email)).size).toBe(rows);
    expect(users.find((user) => user.email === 'fault19999@example.com')?.properties).toEqual({ plan: 'gold', visits: '19999' });
  }, 120_000);

  it('an error on every attempt: the last of Lambda\'s three attempts marks the import failed (it does not stay processing), keeping what was imported', async () => {
    const tenantId = uniqueTenant('fault');
    const rows = 3_000;
    const csv = `email,plan\n${Array.from({ length: rows }, (_, i) => `always${i}@example.com,p`).join('\n')}\n`;
    const created = await createImport({ imports, blobs, maxUploadBytes: 5 * 1024 ** 3 }, tenantId, {});
    const importId = created.body.importId;
    await blobs.put(uploadKey(tenantId, importId), Buffer.from(csv), 'text/csv');
    // DynamoDB keeps failing (beyond the sender's own retries) after the first few batches.
    const real = userStore(env);
    let writes = 0;
    const failing = Object.assign(Object.create(real) as typeof real, {
      write: async (...args: Parameters<typeof real.write>) => {
        writes += 1;
        if (writes > 3) throw new Error('InternalServerError: service unavailable');
        return real.write(...args);
      },
    });
    const deps = { imports, users: failing, registry, blobs, continueLater: async () => undefined };
    const trigger = { kind: 'upload' as const, tenantId, importId, size: Buffer.byteLength(csv), sequencer: 'seq-always' };
    const settings = { ...defaultImportRunSettings, saveEveryMs: 0 };
    await expect(runCsvImport(deps, trigger, () => 15 * 60_000, settings)).rejects.toThrow(/service unavailable/);
    await expect(runCsvImport(deps, trigger, () => 15 * 60_000, settings)).rejects.toThrow(/service unavailable/);
    expect(await runCsvImport(deps, trigger, () => 15 * 60_000, settings)).toBe('failed');
    const record = (await imports.get(tenantId, importId))!;
    expect(record).toMatchObject({ status: 'failed', failures: 3, error: { code: 'import_failed', message: expect.stringMatching(/after 3 attempts/) } });
    expect(record.finishedAt).toEqual(expect.any(String));
    // What was committed stays: the counted rows, and at most the batches that were in flight after them.
    expect(record.counts.rows).toBeLessThan(rows);
    const stored = (await allUsers(tenantId)).length;
    expect(stored).toBeGreaterThan(0);
    expect(stored).toBeGreaterThanOrEqual(record.counts.created);
    expect(stored).toBeLessThanOrEqual(record.counts.created + settings.batchesInFlight * settings.batchSize);
    // A late redelivery does not restart it.
    expect(await runCsvImport(deps, trigger, () => 15 * 60_000, settings)).toBe('ignored');
  }, 120_000);

  it('an import failed after three attempts still offers the full error report of the rows it read', async () => {
    const tenantId = uniqueTenant('fault');
    const rows = 3_000;
    // Every 100th row has an invalid email: the first batches (committed before DynamoDB fails) carry row errors.
    const csv = `email,plan\n${Array.from({ length: rows }, (_, i) => (i % 100 === 7 ? `broken${i}-at-example.com,p` : `report${i}@example.com,p`)).join('\n')}\n`;
    const created = await createImport({ imports, blobs, maxUploadBytes: 5 * 1024 ** 3 }, tenantId, {});
    const importId = created.body.importId;
    await blobs.put(uploadKey(tenantId, importId), Buffer.from(csv), 'text/csv');
    const real = userStore(env);
    let writes = 0;
    const failing = Object.assign(Object.create(real) as typeof real, {
      write: async (...args: Parameters<typeof real.write>) => {
        writes += 1;
        if (writes > 3) throw new Error('InternalServerError: service unavailable');
        return real.write(...args);
      },
    });
    const deps = { imports, users: failing, registry, blobs, continueLater: async () => undefined };
    const trigger = { kind: 'upload' as const, tenantId, importId, size: Buffer.byteLength(csv), sequencer: 'seq-report' };
    const settings = { ...defaultImportRunSettings, saveEveryMs: 0, batchSize: 100, batchesInFlight: 1 };
    await expect(runCsvImport(deps, trigger, () => 15 * 60_000, settings)).rejects.toThrow(/service unavailable/);
    await expect(runCsvImport(deps, trigger, () => 15 * 60_000, settings)).rejects.toThrow(/service unavailable/);
    expect(await runCsvImport(deps, trigger, () => 15 * 60_000, settings)).toBe('failed');

    const view = await getImport({ imports, blobs, maxUploadBytes: 5 * 1024 ** 3 }, tenantId, importId);
    expect(view).toMatchObject({ status: 'failed', error: { code: 'import_failed' } });
    expect(view.errorCount).toBeGreaterThan(0);
    expect(view.errorReportUrl).toMatch(/^http/);
    const report = (await (await fetch(view.errorReportUrl!)).text()).split(/\r?\n/).filter(Boolean);
    expect(report[0]).toBe('line,column,value,message');
    // One line per counted error, each naming its row (header = line 1, row i is line i + 2).
    expect(report.slice(1)).toHaveLength(view.errorCount);
    expect(report[1]).toMatch(/^9,email,broken7-at-example\.com,/);
    // The parts were joined and removed.
    const parts = await blobs.read(`errors/${tenantId}/${importId}/part-000001.csv`).then(() => 'present', () => 'gone');
    expect(parts).toBe('gone');
  }, 120_000);

  it('a crashed invocation (lease still held, nothing released): the retry is busy until the lease lapses, then resumes and completes exactly', async () => {
    const tenantId = uniqueTenant('crash');
    const rows = 5_000;
    const csv = `email,plan\n${Array.from({ length: rows }, (_, i) => `crash${i}@example.com,p${i % 7}`).join('\n')}\n`;
    const created = await createImport({ imports, blobs, maxUploadBytes: 5 * 1024 ** 3 }, tenantId, {});
    const importId = created.body.importId;
    await blobs.put(uploadKey(tenantId, importId), Buffer.from(csv), 'text/csv');
    const trigger = { kind: 'upload' as const, tenantId, importId, size: Buffer.byteLength(csv), sequencer: 'seq-crash' };
    const settings = { ...defaultImportRunSettings, saveEveryMs: 0, leaseMs: 1_500 };
    // The process dies mid-file: its writes stop and it never gets to release the lease.
    const real = userStore(env);
    let writes = 0;
    const dying = Object.assign(Object.create(real) as typeof real, {
      write: async (...args: Parameters<typeof real.write>) => {
        writes += 1;
        if (writes > 6) throw new Error('process killed');
        return real.write(...args);
      },
    });
    // A dead process neither counts its failure nor releases its lease.
    const crashed = { imports: Object.assign(Object.create(imports) as typeof imports, { recordFailure: async () => undefined }), users: dying, registry, blobs, continueLater: async () => undefined };
    await expect(runCsvImport(crashed, trigger, () => 15 * 60_000, settings)).rejects.toThrow('process killed');

    const deps = { imports, users: userStore(env), registry, blobs, continueLater: async () => undefined };
    // Lambda's retry arrives while the dead invocation's lease still holds: busy, so Lambda retries again later.
    await expect(runCsvImport(deps, trigger, () => 15 * 60_000, settings)).rejects.toMatchObject({ name: 'ImportBusyError' });
    await new Promise((resolve) => setTimeout(resolve, 1_600));
    expect(await runCsvImport(deps, trigger, () => 15 * 60_000, settings)).toBe('completed');
    const record = (await imports.get(tenantId, importId))!;
    expect(record).toMatchObject({ status: 'completed', counts: { rows, created: rows, unchanged: 0, failed: 0 } });
    expect(await allUsers(tenantId)).toHaveLength(rows);
    // A later duplicate delivery of the finished object changes nothing.
    expect(await runCsvImport(deps, trigger, () => 15 * 60_000, settings)).toBe('ignored');
  }, 120_000);
});
