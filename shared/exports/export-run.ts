import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { stringify } from 'csv-stringify';
import { neutraliseFormula } from '../csv/formula-guard.js';
import { logger } from '../logging/logger.js';
import type { PropertyRegistry } from '../properties/property-registry.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { UserEventRecord, UserStore } from '../users/user-store.js';
import type { UserProfile } from '../users/user.js';
import { exportKey, exportPartKey, type ExportCheckpoint, type ExportPosition, type ExportRecord } from './export-record.js';
import type { ExportSource } from './export-sources.js';
import type { ExportStore } from './export-store.js';

/**
 * Runs an export job: reads the tenant's users or events page by page, writes them as CSV
 * (UTF-8 with BOM, formula cells neutralised) streamed into a multipart upload, and when the
 * invocation nears its time limit saves the position and continues in a new invocation.
 * Each invocation writes one part; the last one joins the parts into
 * `exports/<tenant>/<exportId>.csv`. Memory stays flat: one page of rows at a time.
 */
export const USERS_CSV_COLUMNS = ['user_id', 'email', 'external_id', 'created_at', 'updated_at'] as const;
export const EVENTS_CSV_COLUMNS = ['event_id', 'user_id', 'email', 'type', 'occurred_at', 'source', 'properties'] as const;

export interface ExportInvocation {
  kind: 'export';
  tenantId: string;
  exportId: string;
  /** Set on a continuation: the lease the previous invocation hands over. */
  leaseId?: string;
}

export interface ExportRunDependencies {
  exports: ExportStore;
  source: ExportSource;
  users: Pick<UserStore, 'getProfiles'>;
  registry: Pick<PropertyRegistry, 'types'>;
  blobs: BlobStore;
  continueLater: (request: ExportInvocation) => Promise<void>;
}

export interface ExportRunSettings {
  /** A live run renews its lease this often; a crashed one's lease lapses within `leaseMs`. */
  leaseMs: number;
  heartbeatMs: number;
  /** Stop reading and hand over when less than this is left of the invocation. */
  stopWhenRemainingMs: number;
  /** Attempts before a failing export is marked failed. */
  maxFailures: number;
}

export const defaultExportRunSettings: ExportRunSettings = { leaseMs: 90_000, heartbeatMs: 20_000, stopWhenRemainingMs: 90_000, maxFailures: 3 };

export type ExportRunResult = 'completed' | 'continued' | 'failed' | 'ignored';

/** Thrown when another invocation holds a live lease: Lambda retries later, after it lapses. */
export class ExportBusyError extends Error {
  override readonly name = 'ExportBusyError';
}

export async function runExport(
  deps: ExportRunDependencies,
  invocation: ExportInvocation,
  remainingMs: () => number,
  settings: ExportRunSettings = defaultExportRunSettings,
): Promise<ExportRunResult> {
  const { tenantId, exportId } = invocation;
  const leaseId = randomUUID();
  const record = await deps.exports.claim(tenantId, exportId, { leaseId, continuing: invocation.leaseId, leaseMs: settings.leaseMs, now: new Date() });
  if (!record) {
    const current = await deps.exports.get(tenantId, exportId);
    if (current?.status === 'processing') throw new ExportBusyError(`export ${exportId} is running in another invocation`);
    logger.info('export invocation ignored: no such export, or it has finished', { exportId, status: current?.status });
    return 'ignored';
  }
  try {
    return await new ExportRun(deps, record, leaseId, settings, remainingMs).execute();
  } catch (error) {
    const failures = await deps.exports.recordFailure(tenantId, exportId, leaseId).catch(() => undefined);
    logger.error('export attempt failed', { exportId, failures, error: error as Error });
    if (failures !== undefined && failures >= settings.maxFailures) {
      await deps.exports.finish(tenantId, exportId, undefined, { status: 'failed', error: { code: 'export_failed', message: `the export failed ${failures} times; nothing was published` } });
      return 'failed';
    }
    throw error;
  }
}

class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
}

class ExportRun {
  private lastHeartbeat = Date.now();
  /** The durable position this invocation started from (what a heartbeat re-saves). */
  private start: ExportCheckpoint | undefined;
  private readonly emails = new Map<string, string>();

  constructor(
    private readonly deps: ExportRunDependencies,
    private readonly record: ExportRecord,
    private readonly leaseId: string,
    private readonly settings: ExportRunSettings,
    private readonly remainingMs: () => number,
  ) {}

  async execute(): Promise<ExportRunResult> {
    const { tenantId, exportId } = this.record;
    let checkpoint = this.record.checkpoint ?? (await this.firstCheckpoint());
    this.start = checkpoint;
    if (checkpoint.position) {
      checkpoint = await this.writePart(checkpoint);
      if (!(await this.deps.exports.saveCheckpoint(tenantId, exportId, this.leaseId, checkpoint, Date.now() + this.settings.leaseMs))) throw new LeaseLostError('lease lost');
      if (checkpoint.position) {
        await this.deps.continueLater({ kind: 'export', tenantId, exportId, leaseId: this.leaseId });
        logger.info('export continues in a new invocation', { exportId, rows: checkpoint.rows, parts: checkpoint.parts });
        return 'continued';
      }
    }
    await this.publish(checkpoint.parts);
    await this.deps.exports.finish(tenantId, exportId, this.leaseId, { status: 'completed', rows: checkpoint.rows });
    logger.info('export completed', { exportId, rows: checkpoint.rows, parts: checkpoint.parts });
    return 'completed';
  }

  private async firstCheckpoint(): Promise<ExportCheckpoint> {
    const spec = this.record.spec;
    if (spec.kind === 'events') return { parts: 0, rows: 0, columns: [...EVENTS_CSV_COLUMNS], position: { kind: 'events' } };
    // Property columns are fixed once, so every part has the same columns.
    const properties = spec.properties ?? [...(await this.deps.registry.types(this.record.tenantId)).keys()].sort();
    return { parts: 0, rows: 0, columns: [...USERS_CSV_COLUMNS, ...properties], position: { kind: 'users', shard: 0 } };
  }

  /** Streams rows from the checkpoint's position into the next part until done or out of time. */
  private async writePart(checkpoint: ExportCheckpoint): Promise<ExportCheckpoint> {
    const part = checkpoint.parts + 1;
    const csv = stringify({ bom: part === 1 });
    const upload = this.deps.blobs.upload(exportPartKey(this.record.tenantId, this.record.exportId, part), csv, 'text/csv; charset=utf-8');
    // A failed upload must stop the writer instead of leaving it waiting for 'drain'.
    const uploaded = upload.then(
      () => undefined,
      (error: unknown) => {
        csv.destroy(error as Error);
        throw error;
      },
    );
    // Both surface through `write` or `await uploaded` below; never as an unhandled event.
    uploaded.catch(() => undefined);
    csv.on('error', () => undefined);
    const write = async (cells: string[]) => {
      if (csv.destroyed) await uploaded;
      // A failing upload rejects `uploaded`: the writer never waits for a 'drain' that cannot come.
      if (!csv.write(cells.map(neutraliseFormula))) await Promise.race([once(csv, 'drain'), uploaded]);
    };
    if (part === 1) await write(checkpoint.columns);
    let rows = checkpoint.rows;
    // Null unless the invocation runs out of time with rows left: a source that ends is done.
    let resumeAt: ExportPosition | null = null;
    for await (const page of this.pages(checkpoint.position!)) {
      for (const cells of await this.cells(page.rows, checkpoint.columns)) await write(cells);
      rows += page.rows.length;
      await this.heartbeat();
      if (page.next && this.remainingMs() < this.settings.stopWhenRemainingMs) {
        resumeAt = page.next;
        break;
      }
    }
    csv.end();
    await uploaded;
    return { ...checkpoint, parts: part, rows, position: resumeAt };
  }

  private pages(position: ExportPosition) {
    const spec = this.record.spec;
    if (position.kind === 'users') return this.deps.source.users(this.record.tenantId, position);
    if (spec.kind !== 'events') throw new Error('events position on a users export');
    return this.deps.source.events(this.record.tenantId, spec, position);
  }

  private async cells(rows: unknown[], columns: string[]): Promise<string[][]> {
    if (this.record.spec.kind === 'users') {
      const properties = columns.slice(USERS_CSV_COLUMNS.length);
      return (rows as UserProfile[]).map((user) => [
        user.userId,
        user.email,
        user.externalId ?? '',
        user.createdAt,
        user.updatedAt,
        ...properties.map((name) => cellText(user.properties[name])),
      ]);
    }
    const events = rows as UserEventRecord[];
    await this.resolveEmails(events.map((event) => event.userId));
    return events.map((event) => [event.eventId, event.userId, this.emails.get(event.userId) ?? '', event.type, event.occurredAt, event.source, JSON.stringify(event.properties ?? {})]);
  }

  /** Current emails of the users a page names, in batched reads, with a bounded cache. */
  private async resolveEmails(userIds: string[]): Promise<void> {
    const missing = [...new Set(userIds)].filter((userId) => !this.emails.has(userId));
    if (missing.length === 0) return;
    if (this.emails.size > 50_000) this.emails.clear();
    const profiles = await this.deps.users.getProfiles(this.record.tenantId, missing);
    // An erased user's leftover event exports with an empty email.
    for (const userId of missing) this.emails.set(userId, profiles.get(userId)?.email ?? '');
  }

  private async heartbeat(): Promise<void> {
    if (Date.now() - this.lastHeartbeat < this.settings.heartbeatMs) return;
    this.lastHeartbeat = Date.now();
    const { tenantId, exportId } = this.record;
    const kept = await this.deps.exports.saveCheckpoint(tenantId, exportId, this.leaseId, this.start!, Date.now() + this.settings.leaseMs);
    if (!kept) throw new LeaseLostError('another invocation took over this export');
  }

  /** Puts the finished file at its public key: one part is copied in S3, several are joined (streamed). */
  private async publish(parts: number): Promise<void> {
    const { tenantId, exportId } = this.record;
    const partKeys = Array.from({ length: parts }, (_, index) => exportPartKey(tenantId, exportId, index + 1));
    const target = exportKey(tenantId, exportId);
    if (partKeys.length === 1) {
      await this.deps.blobs.copy(partKeys[0]!, target);
    } else {
      const blobs = this.deps.blobs;
      async function* joined() {
        for (const key of partKeys) yield* await blobs.read(key);
      }
      await blobs.upload(target, Readable.from(joined()), 'text/csv; charset=utf-8');
    }
    await this.deps.blobs.delete(partKeys);
  }
}

/** How a property value reads in a CSV cell: lists and objects as JSON, nothing as empty. */
export function cellText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}
