import { CompactIdSet } from './compact-id-set.js';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { stringify } from 'csv-stringify/sync';
import { neutraliseFormula } from '../csv/formula-guard.js';
import { logger } from '../logging/logger.js';
import { recordImportFailed, recordRows } from '../observability/metrics.js';
import { coerceValue } from '../properties/property-coercion.js';
import type { PropertyRegistry } from '../properties/property-registry.js';
import type { PropertyType } from '../properties/property.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { UserStore } from '../users/user-store.js';
import { normalizeEmail } from '../users/email-address.js';
import { upsertUsers, type UserChange } from '../users/user-upsert.js';
import { planColumns, ImportSetupError, type ColumnPlan } from './column-plan.js';
import { detectCsvLayout } from './csv-layout.js';
import { readCsvRecords, type CsvRecord } from './csv-records.js';
import { emptyCounts, errorReportKey, MAX_INLINE_ERRORS, type ImportCheckpoint, type ImportCounts, type ImportRecord, type RowError } from './import-record.js';
import type { ImportStore } from './import-store.js';
import { uploadKey } from './upload-key.js';

/**
 * Runs a CSV import: streams the uploaded object, reads records with their line numbers,
 * maps and coerces each row, and sends batches through the one upsert path, a few batches
 * in flight at a time. Progress (counts, first errors, the byte offset after the last
 * committed record) is saved every few seconds; when the invocation nears its time limit
 * the run stops at a record boundary, saves, and asks for a continuation, which resumes
 * with an S3 ranged GET from that offset.
 */
export interface ImportRunDependencies {
  imports: ImportStore;
  users: UserStore;
  registry: PropertyRegistry;
  blobs: BlobStore;
  /** Starts a new invocation that continues this run (asynchronous Lambda invoke). */
  continueLater: (request: ContinuationRequest) => Promise<void>;
}

export interface ImportRunSettings {
  batchSize: number;
  batchesInFlight: number;
  saveEveryMs: number;
  /** Stop and continue in a new invocation when less time than this remains. */
  stopWhenRemainingMs: number;
  leaseMs: number;
  /** Invocations ending on an unexpected error before the import is marked failed: Lambda's 1 + 2 retries. */
  maxFailures: number;
}

export const defaultImportRunSettings: ImportRunSettings = {
  batchSize: 250,
  // 4 left the one-core importer idle ~28% of the time waiting on 10 ms round trips; 8: ~14%.
  batchesInFlight: 8,
  saveEveryMs: 2_000,
  stopWhenRemainingMs: 60_000,
  // Renewed by every save (each ~2 s): short, so Lambda's retries of a crashed invocation
  // (after ~1 and ~3 minutes) find it lapsed and resume, instead of finding it still held.
  leaseMs: 2 * 60_000,
  maxFailures: 3,
};

/** The import is being worked on under a live lease of this same object: Lambda retries the event later. */
export class ImportBusyError extends Error {
  override readonly name = 'ImportBusyError';
}

export interface UploadTrigger {
  kind: 'upload';
  tenantId: string;
  importId: string;
  size: number;
  sequencer: string;
}

export interface ContinuationRequest {
  kind: 'continuation';
  tenantId: string;
  importId: string;
  leaseId: string;
  /** The byte offset it continues from: tells one continuation event (and Lambda's retries of it) from the next. */
  from?: number;
}

export type ImportTrigger = UploadTrigger | ContinuationRequest;

export type ImportRunResult = 'ignored' | 'failed' | 'continued' | 'completed' | 'lease_lost';

const HEAD_BYTES = 64 * 1024;
/** Users remembered per invocation to report duplicate rows (8 bytes a slot: at most 16 MB). */
const DUPLICATE_TRACKING_LIMIT = 1_000_000;
const MAX_ERROR_VALUE_LENGTH = 200;

interface RowResult {
  endOffset: number;
  nextLine: number;
}

interface BatchOutcome extends RowResult {
  counts: ImportCounts;
  errors: RowError[];
  duplicates: number;
}

export async function runCsvImport(
  deps: ImportRunDependencies,
  trigger: ImportTrigger,
  remainingMs: () => number,
  settings: ImportRunSettings = defaultImportRunSettings,
): Promise<ImportRunResult> {
  const { tenantId, importId } = trigger;
  const record = await deps.imports.get(tenantId, importId);
  if (!record) {
    logger.warn('upload refused: no import of this tenant has this ID', { importId });
    return 'ignored';
  }

  let leaseId: string;
  let current: ImportRecord;
  if (trigger.kind === 'upload') {
    leaseId = randomUUID();
    const claimed = await deps.imports.claim(tenantId, importId, {
      leaseId,
      leaseMs: settings.leaseMs,
      sequencer: trigger.sequencer,
      now: new Date(),
    });
    if (!claimed) {
      if (record.status === 'processing' && record.objectSequencer === trigger.sequencer && (record.leaseExpiresAt ?? 0) >= Date.now()) {
        // A retry of a crashed invocation (or a duplicate delivery) while the lease still holds: try again later.
        throw new ImportBusyError(`import ${importId} is held by another invocation until its lease lapses`);
      }
      logger.info('upload event ignored: the import is already running or finished (duplicate delivery)', { importId, status: record.status });
      return 'ignored';
    }
    current = claimed;
    const refusal = sizeRefusal(current, trigger.size);
    if (refusal) {
      await deps.imports.finish(tenantId, importId, leaseId, { status: 'failed', finishedAt: new Date().toISOString(), error: refusal });
      logger.warn('import refused', { importId, code: refusal.code });
      recordImportFailed();
      return 'failed';
    }
  } else {
    if (record.leaseId !== trigger.leaseId || record.status !== 'processing' || !record.checkpoint) {
      logger.info('continuation ignored: the run it continues is no longer live', { importId });
      return 'ignored';
    }
    leaseId = trigger.leaseId;
    current = record;
  }

  const run = new ImportRun(deps, current, leaseId, settings, remainingMs);
  try {
    return await run.execute();
  } catch (error) {
    if (!(error instanceof ImportSetupError)) {
      // Count the failure and release the lease (progress stays at the last checkpoint) so
      // Lambda's retry of this event can claim the import again and resume at once. After the
      // last retry the import is failed: it must not stay `processing` once nothing will run it.
      // Counted per event (an upload's, or one continuation's): Lambda gives each event 1 + 2 attempts.
      const event = trigger.kind === 'upload' ? `upload:${trigger.sequencer}` : `continuation:${trigger.leaseId}:${trigger.from ?? ''}`;
      const failures = await deps.imports.recordFailure(tenantId, importId, leaseId, event, current.failedEvent === event ? (current.failures ?? 0) : 0).catch(() => undefined);
      logger.error('import attempt failed', { importId, failures, error: error as Error });
      if (failures !== undefined && failures >= settings.maxFailures) {
        // The row errors up to the last checkpoint are in saved parts: join them, so the failed
        // import still offers its full error report (best effort: the failure itself must land).
        const parts = (await deps.imports.get(tenantId, importId).catch(() => undefined))?.checkpoint?.errorParts ?? 0;
        const hasErrorReport = parts > 0 && (await composeErrorReport(deps.blobs, current, parts).then(() => true, () => false));
        await deps.imports.finish(tenantId, importId, leaseId, {
          status: 'failed',
          finishedAt: new Date().toISOString(),
          hasErrorReport,
          error: {
            code: 'import_failed',
            message: `the import stopped after ${failures} attempts failed on an internal error; the rows in counts are imported (some rows after them may be too); importing the file again completes it`,
          },
        });
        recordImportFailed();
        return 'failed';
      }
      throw error;
    }
    {
      await deps.imports.finish(tenantId, importId, leaseId, {
        status: 'failed',
        finishedAt: new Date().toISOString(),
        error: { code: error.code, message: error.message },
      });
      logger.info('import failed', { importId, code: error.code });
      recordImportFailed();
      return 'failed';
    }
    throw error;
  }
}

function sizeRefusal(record: ImportRecord, size: number): { code: string; message: string } | undefined {
  if (size > record.maxBytes) {
    return { code: 'file_too_large', message: `the file has ${size} bytes; the limit is ${record.maxBytes} bytes` };
  }
  if (record.sizeBytes !== undefined && size !== record.sizeBytes) {
    return { code: 'size_mismatch', message: `the file has ${size} bytes, but the import was created for ${record.sizeBytes} bytes` };
  }
  return undefined;
}

class ImportRun {
  private counts: ImportCounts;
  private errors: RowError[];
  private errorCount: number;
  private duplicateRows: number;
  private pendingReport: RowError[] = [];
  private checkpoint: ImportCheckpoint | undefined;
  private lastSave = Date.now();
  private readonly seenUsers = new CompactIdSet(DUPLICATE_TRACKING_LIMIT);
  private plan: ColumnPlan | undefined;
  private readonly key: string;

  constructor(
    private readonly deps: ImportRunDependencies,
    private readonly record: ImportRecord,
    private readonly leaseId: string,
    private readonly settings: ImportRunSettings,
    private readonly remainingMs: () => number,
  ) {
    this.counts = record.counts ?? emptyCounts();
    this.errors = record.errors ?? [];
    this.errorCount = record.errorCount ?? 0;
    this.duplicateRows = record.duplicateRows ?? 0;
    this.checkpoint = record.checkpoint;
    this.key = uploadKey(record.tenantId, record.importId);
  }

  async execute(): Promise<ImportRunResult> {
    const { tenantId } = this.record;
    let records: AsyncGenerator<CsvRecord>;
    let source: Readable;
    if (!this.checkpoint) {
      const size = (await this.deps.blobs.size(this.key)) ?? 0;
      if (size === 0) throw new ImportSetupError('empty_file', 'the file is empty: expected a header line with an email column');
      const head = await readAll(await this.deps.blobs.read(this.key, { start: 0, end: Math.min(size, HEAD_BYTES) - 1 }));
      const layout = detectCsvLayout(head, { encoding: this.record.encodingOverride, headIsWholeFile: size <= HEAD_BYTES });
      // Nothing after the byte-order mark (a ranged read past the end would fail on every retry).
      if (size <= layout.bomBytes) throw new ImportSetupError('empty_file', 'the file holds only a byte-order mark: expected a header line with an email column');
      source = await this.deps.blobs.read(this.key, { start: layout.bomBytes });
      records = readCsvRecords(source, { layout, startOffset: layout.bomBytes, startLine: 1 });
      const first = await records.next();
      if (first.done) throw new ImportSetupError('empty_file', 'the file has no header line');
      if (first.value.error) throw new ImportSetupError('bad_header', `the header line cannot be read: ${first.value.error}`);
      const columns = first.value.fields.map((field) => field.trim());
      planColumns(columns, this.record); // fails fast, before anything is written
      this.checkpoint = { offset: first.value.endOffset, line: first.value.nextLine, columns, layout, errorParts: 0 };
      await this.save(true);
    } else {
      source = await this.deps.blobs.read(this.key, { start: this.checkpoint.offset });
      records = readCsvRecords(source, { layout: this.checkpoint.layout, startOffset: this.checkpoint.offset, startLine: this.checkpoint.line });
    }
    const checkpoint = this.checkpoint;
    const plan = planColumns(checkpoint.columns, this.record);
    this.plan = plan;
    const known = await this.deps.registry.types(tenantId);
    const types = plan.properties.some((column) => !known.has(column.property))
      ? await this.deps.registry.ensure(tenantId, plan.properties.map((column) => column.property), 'csv', known)
      : known;

    const columnTypes = plan.properties.map((column) => types.get(column.property) ?? 'string');

    let stopped = false;
    const inFlight: Array<{ emails: Set<string>; outcome: Promise<BatchOutcome> }> = [];
    // The emails of all in-flight batches (each in one batch only: an overlap drains them all first).
    const inFlightEmails = new Set<string>();
    const commitOldest = async () => {
      const batch = inFlight.shift();
      if (!batch) return;
      for (const email of batch.emails) inFlightEmails.delete(email);
      await this.commit(await batch.outcome);
    };
    let batch: Array<{ record: CsvRecord; change?: UserChange; error?: RowError; email?: string }> = [];
    const dispatch = async () => {
      if (batch.length === 0) return;
      const rows = batch;
      batch = [];
      const emails = new Set<string>();
      for (const row of rows) if (row.email) emails.add(row.email);
      // Rows of one email stay in order: wait for in-flight batches that touch the same users.
      if (overlaps(emails, inFlightEmails)) {
        while (inFlight.length > 0) await commitOldest();
      }
      while (inFlight.length >= this.settings.batchesInFlight) await commitOldest();
      for (const email of emails) inFlightEmails.add(email);
      const outcome = this.applyBatch(rows);
      // Batches fail while an earlier one is awaited: mark each handled here (its awaiter still
      // sees the error), or Node would treat the rejection as unhandled and kill the process.
      outcome.catch(() => undefined);
      inFlight.push({ emails, outcome });
    };

    try {
      for await (const csvRecord of records) {
        batch.push(this.prepareRow(csvRecord, checkpoint.columns, plan, columnTypes));
        if (batch.length >= this.settings.batchSize) {
          await dispatch();
          if (this.remainingMs() < this.settings.stopWhenRemainingMs) {
            stopped = true;
            break;
          }
        }
      }
      if (!stopped) await dispatch();
      while (inFlight.length > 0) await commitOldest();
    } finally {
      source.destroy();
      await Promise.allSettled(inFlight.map((pending) => pending.outcome));
    }

    if (stopped) {
      if (!(await this.save(true))) return 'lease_lost';
      await this.deps.continueLater({ kind: 'continuation', tenantId, importId: this.record.importId, leaseId: this.leaseId, from: this.checkpoint?.offset });
      logger.info('import continues in a new invocation', { importId: this.record.importId, line: this.checkpoint?.line });
      return 'continued';
    }
    return this.finish();
  }

  /** `columnTypes[i]` is the type of `plan.properties[i]`. */
  private prepareRow(record: CsvRecord, columns: string[], plan: ColumnPlan, columnTypes: PropertyType[]) {
    if (record.error) return { record, error: { line: record.line, message: record.error } };
    if (record.fields.length !== columns.length) {
      return {
        record,
        error: { line: record.line, message: `expected ${columns.length} fields (as in the header), found ${record.fields.length}` },
      };
    }
    const email = record.fields[plan.emailIndex]!;
    const properties: UserChange['properties'] = {};
    for (let index = 0; index < plan.properties.length; index += 1) {
      const column = plan.properties[index]!;
      const raw = record.fields[column.index]!;
      const coerced = coerceValue(raw, columnTypes[index]!);
      if (!coerced.ok) {
        return { record, error: { line: record.line, column: column.column, value: clip(raw), message: coerced.message } };
      }
      if (coerced.value !== undefined) properties[column.property] = coerced.value;
    }
    return { record, email: overlapKey(email), change: { email, properties, ref: `${this.record.importId}:${record.line}` } };
  }

  private async applyBatch(rows: Array<{ record: CsvRecord; change?: UserChange; error?: RowError }>): Promise<BatchOutcome> {
    const counts = emptyCounts();
    const errors: RowError[] = [];
    let duplicates = 0;
    const changes: UserChange[] = [];
    for (const row of rows) if (row.change) changes.push(row.change);
    const outcomes = await upsertUsers(
      this.deps.users,
      { tenantId: this.record.tenantId, mode: this.record.mode, source: 'csv' },
      changes,
    );
    let next = 0;
    const emailColumn = this.checkpoint!.columns[this.plan!.emailIndex];
    for (const row of rows) {
      counts.rows += 1;
      if (row.error) {
        counts.failed += 1;
        errors.push(row.error);
        continue;
      }
      const outcome = outcomes[next++]!;
      if (outcome.status === 'failed') {
        counts.failed += 1;
        // The email, or (a user grown past one item) the column of the property the outcome names.
        const column = outcome.field === 'email' ? emailColumn : this.plan!.properties.find((planned) => planned.property === outcome.field)?.column;
        errors.push({ line: row.record.line, column, ...(outcome.field === 'email' ? { value: clip(String(row.change?.email ?? '')) } : {}), message: outcome.message });
        continue;
      }
      counts[outcome.status] += 1;
      if (outcome.status !== 'skipped' && this.isDuplicate(outcome.userId)) duplicates += 1;
    }
    const last = rows[rows.length - 1]!.record;
    return { counts, errors, duplicates, endOffset: last.endOffset, nextLine: last.nextLine };
  }

  private isDuplicate(userId: string): boolean {
    // 48 bits of the (hash-derived) user ID stand for it: a false match is vanishingly rare.
    let hash = 0;
    for (let index = 2; index < 10; index += 1) hash = hash * 64 + (userId.charCodeAt(index) & 63);
    if (this.seenUsers.has(hash)) return true;
    this.seenUsers.add(hash);
    return false;
  }

  private async commit(outcome: BatchOutcome): Promise<void> {
    for (const name of Object.keys(this.counts) as Array<keyof ImportCounts>) this.counts[name] += outcome.counts[name];
    this.duplicateRows += outcome.duplicates;
    for (const error of outcome.errors) {
      if (this.errors.length < MAX_INLINE_ERRORS) this.errors.push(error);
      this.pendingReport.push(error);
    }
    this.errorCount += outcome.errors.length;
    this.checkpoint = { ...this.checkpoint!, offset: outcome.endOffset, line: outcome.nextLine };
    if (Date.now() - this.lastSave >= this.settings.saveEveryMs || this.pendingReport.length >= 10_000) await this.save(false);
  }

  /** Writes the pending part of the error report, then the progress; false when the lease was lost. */
  private async save(force: boolean): Promise<boolean> {
    if (!force && Date.now() - this.lastSave < this.settings.saveEveryMs && this.pendingReport.length < 10_000) return true;
    const checkpoint = this.checkpoint!;
    if (this.pendingReport.length > 0) {
      const part = checkpoint.errorParts + 1;
      await this.deps.blobs.put(errorPartKey(this.record, part), reportRows(this.pendingReport), 'text/csv; charset=utf-8');
      this.pendingReport = [];
      this.checkpoint = { ...checkpoint, errorParts: part };
    }
    this.lastSave = Date.now();
    const saved = await this.deps.imports.saveProgress(
      this.record.tenantId,
      this.record.importId,
      this.leaseId,
      {
        counts: this.counts,
        errors: this.errors,
        errorCount: this.errorCount,
        duplicateRows: this.duplicateRows,
        checkpoint: this.checkpoint!,
        encoding: this.checkpoint!.layout.encoding,
        delimiter: this.checkpoint!.layout.delimiter,
      },
      Date.now() + this.settings.leaseMs,
    );
    if (!saved) logger.warn('import lease lost: another run took over', { importId: this.record.importId });
    return saved;
  }

  private async finish(): Promise<ImportRunResult> {
    if (!(await this.save(true))) return 'lease_lost';
    const parts = this.checkpoint!.errorParts;
    if (parts > 0) await composeErrorReport(this.deps.blobs, this.record, parts);
    const done = await this.deps.imports.finish(this.record.tenantId, this.record.importId, this.leaseId, {
      status: this.counts.failed > 0 ? 'completed_with_errors' : 'completed',
      finishedAt: new Date().toISOString(),
      hasErrorReport: parts > 0,
    });
    logger.info('import finished', { importId: this.record.importId, counts: this.counts });
    if (done) recordRows('csv', this.counts);
    return done ? 'completed' : 'lease_lost';
  }
}

/** Joins the parts into `errors/<tenant>/<importId>.csv` (streamed, any size) and removes them. */
async function composeErrorReport(blobs: BlobStore, record: Pick<ImportRecord, 'tenantId' | 'importId'>, parts: number): Promise<void> {
  const partKeys = Array.from({ length: parts }, (_, index) => errorPartKey(record, index + 1));
  async function* body() {
    yield Buffer.from(`\uFEFF${stringify([['line', 'column', 'value', 'message']])}`, 'utf8');
    for (const key of partKeys) yield* await blobs.read(key);
  }
  await blobs.upload(errorReportKey(record), Readable.from(body()), 'text/csv; charset=utf-8');
  await blobs.delete(partKeys);
}

const errorPartKey = (record: Pick<ImportRecord, 'tenantId' | 'importId'>, part: number) =>
  `errors/${record.tenantId}/${record.importId}/part-${String(part).padStart(6, '0')}.csv`;

/**
 * The address as the upsert path will store it, so two spellings of one user (`zürich.ch` and
 * its punycode, full-width letters) never go to concurrent batches; an invalid address is a row
 * error in its batch, keyed as given.
 */
function overlapKey(email: string): string {
  const normalised = normalizeEmail(email);
  return normalised.ok ? normalised.email : email.trim().toLowerCase();
}

function overlaps(emails: Set<string>, inFlight: Set<string>): boolean {
  for (const email of emails) if (inFlight.has(email)) return true;
  return false;
}

function reportRows(errors: RowError[]): string {
  return stringify(errors.map((error) => [error.line, neutraliseFormula(error.column ?? ''), neutraliseFormula(error.value ?? ''), error.message]));
}

function clip(value: string): string {
  return value.length > MAX_ERROR_VALUE_LENGTH ? `${value.slice(0, MAX_ERROR_VALUE_LENGTH)}…` : value;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
