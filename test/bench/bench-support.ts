import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { defaultImportRunSettings, runCsvImport } from '../../shared/imports/csv-import-run.js';
import type { ImportRecord } from '../../shared/imports/import-record.js';
import { createImport } from '../../shared/imports/import-service.js';
import type { PropertyRegistry } from '../../shared/properties/property-registry.js';
import type { ImportStore } from '../../shared/imports/import-store.js';
import type { BlobStore } from '../../shared/storage/blob-store.js';
import { eventWriteRequests, userWriteRequests } from '../../shared/users/dynamo-user-store.js';
import type { UserProfile } from '../../shared/users/user.js';
import type { UserStore, UserWriteSet } from '../../shared/users/user-store.js';

/** A property registry that needs no database: every column a string. */
export const stringRegistry = {
  types: async () => new Map(),
  ensure: async (_tenant: string, names: string[]) => new Map(names.map((name) => [name, 'string' as const])),
} as unknown as PropertyRegistry;

/** One import of the object `blobs` serves, through the real importer, with an in-memory import record. */
export async function runBenchImport(blobs: BlobStore, size: number, users: UserStore, registry: PropertyRegistry = stringRegistry, tenantId = 'bench') {
  const imports = new MemoryImportStore();
  const created = await createImport({ imports, blobs, maxUploadBytes: 5 * 1024 ** 3 }, tenantId, {});
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  const outcome = await runCsvImport(
    { imports, users, registry, blobs, continueLater: async () => undefined },
    { kind: 'upload', tenantId, importId: created.body.importId, size, sequencer: 's' },
    () => 15 * 60_000,
    defaultImportRunSettings,
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpu);
  const record = (await imports.get(tenantId, created.body.importId))!;
  return { outcome, record, seconds, cpuSeconds: (used.user + used.system) / 1e6 };
}

/** Writes a CSV of about `megabytes` MB: email plus typed columns, one quoted text column with commas. */
export async function generateCsv(path: string, megabytes: number, options: { padding?: number; rows?: number } = {}): Promise<number> {
  const out = createWriteStream(path);
  out.write('email,first_name,last_name,plan,visits,vip,signup_date,note\n');
  const target = megabytes * 1024 * 1024;
  const pad = 'x'.repeat(options.padding ?? 0);
  let written = 0;
  let rows = 0;
  const maxRows = options.rows ?? Infinity;
  while (written < target && rows < maxRows) {
    const lines: string[] = [];
    for (let i = 0; i < 1000 && rows < maxRows; i += 1, rows += 1) {
      lines.push(
        `user${rows}@example.com,First${rows % 977},Last${rows % 1013},${rows % 3 ? 'gold' : 'free'},${rows % 500},${rows % 2 ? 'yes' : 'no'},2024-0${(rows % 9) + 1}-1${rows % 9},"note, with ""quotes"" ${rows}${pad}"`,
      );
    }
    const chunk = `${lines.join('\n')}\n`;
    written += Buffer.byteLength(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return rows;
}

/** A BlobStore over one local file (the upload), for CPU-only runs. */
export class FileBlobStore implements BlobStore {
  constructor(private readonly path: string) {}
  async read(_key: string, range?: { start: number; end?: number }): Promise<Readable> {
    return createReadStream(this.path, { start: range?.start ?? 0, end: range?.end, highWaterMark: 256 * 1024 });
  }
  async size(): Promise<number> {
    return statSync(this.path).size;
  }
  async put(): Promise<void> {}
  async upload(_key: string, body: Readable): Promise<void> {
    for await (const _chunk of body) void _chunk;
  }
  async copy(): Promise<void> {}
  async delete(): Promise<void> {}
  async presignPut(): Promise<string> {
    return 'file://';
  }
  async presignGet(): Promise<string> {
    return 'file://';
  }
}

/** Keeps one import record in memory, with the same lease rules as the DynamoDB store. */
export class MemoryImportStore implements ImportStore {
  private readonly records = new Map<string, ImportRecord>();
  async create(record: ImportRecord) {
    this.records.set(record.importId, structuredClone(record));
  }
  async get(_tenantId: string, importId: string) {
    const record = this.records.get(importId);
    return record ? structuredClone(record) : undefined;
  }
  async list() {
    return { items: [...this.records.values()], nextCursor: null };
  }
  async claim(_tenantId: string, importId: string, claim: { leaseId: string; leaseMs: number; sequencer: string; now: Date }) {
    const record = this.records.get(importId);
    if (!record || record.status !== 'waiting_upload') return undefined;
    Object.assign(record, { status: 'processing', leaseId: claim.leaseId, leaseExpiresAt: claim.now.getTime() + claim.leaseMs, objectSequencer: claim.sequencer });
    return structuredClone(record);
  }
  async saveProgress(_tenantId: string, importId: string, leaseId: string, progress: object, leaseUntil: number) {
    const record = this.records.get(importId)!;
    if (record.leaseId !== leaseId) return false;
    Object.assign(record, structuredClone(progress), { leaseExpiresAt: leaseUntil });
    return true;
  }
  async finish(_tenantId: string, importId: string, leaseId: string, result: object) {
    const record = this.records.get(importId)!;
    if (record.leaseId !== leaseId) return false;
    Object.assign(record, structuredClone(result));
    return true;
  }
  async recordFailure() {
    return undefined;
  }
}

/** A user store that finds nobody and marshals every item it is asked to write, then drops it. */
export class NullSinkUserStore implements UserStore {
  items = 0;
  /** Characters of JSON encoded (keeps the encoding observable, so it cannot be optimised away). */
  encodedBytes = 0;
  async getProfiles(): Promise<Map<string, UserProfile>> {
    return new Map();
  }
  async findUserIdsByEmail(): Promise<Map<string, string>> {
    return new Map();
  }
  async findUserIdsByExternalId(): Promise<Map<string, string>> {
    return new Map();
  }
  async write(tenantId: string, writes: UserWriteSet): Promise<void> {
    // Exactly what DynamoUserStore encodes (the type-day markers aside: one per type and day).
    this.encodedBytes += eventWriteRequests(tenantId, writes).reduce((sum, request) => sum + request.length, 0);
    this.encodedBytes += userWriteRequests(tenantId, writes).reduce((sum, request) => sum + request.length, 0);
    this.items += writes.events.length + writes.profiles.length + writes.emailClaims.length;
  }
}

/**
 * The heap flags Lambda's Node.js runtime starts `node` with for a function of `memoryMb`
 * (its bootstrap: new space = memory / 10, half of it per semi-space, the rest old space).
 * They come on the command line, so NODE_OPTIONS cannot change them.
 */
export const lambdaHeapFlags = (memoryMb: number) => [`--max-semi-space-size=${Math.floor(memoryMb / 20)}`, `--max-old-space-size=${memoryMb - Math.floor(memoryMb / 10)}`];

/** The median of some measurements (the mean of the middle two for an even count). */
export function median(values: number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
