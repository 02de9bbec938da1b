import { stringify } from 'csv-stringify/sync';
import type { ExportSource } from '../../exports/export-sources.js';
import { MAX_INLINE_ERRORS } from '../../imports/import-record.js';
import type { UserProfile } from '../../users/user.js';
import type { SalesforceApi, SaveResult } from './salesforce-api.js';
import { SalesforceRunError, soqlString } from './salesforce-import.js';
import type { SalesforceExportSettings, SalesforceImportSettings } from './salesforce-settings.js';
import type { RunControl, SalesforceCheckpoint } from './salesforce-sync-run.js';
import { toCsvCell, toSalesforce } from './salesforce-values.js';

/**
 * The export half of a Salesforce run: users changed since the last successful export (all
 * on the first) are written into the import's object. A user matches a record by
 * `userIdField` (the Roster user ID), then by the import's email field; `all` creates the
 * missing ones (with the email), `existing` never does. A record whose fields already hold
 * what would be written is not written at all (so users the import just brought in cost no
 * write, and nothing loops).
 *
 * Up to 2,000 users: lookup queries (100 users each) and sObject Collections (200 records
 * per call). More: one Bulk API 2.0 query reads the object's match index, then Bulk API 2.0
 * ingest jobs (update and insert, 10,000 records each) write; their `failedResults` become
 * the run's errors with Salesforce's status code. A job that does not finish in time is
 * aborted and the run fails: never left open, never counted as success.
 */
export interface ExportTuning {
  smallLimit: number;
  lookupChunk: number;
  ingestChunk: number;
  pollMs: number;
  jobTimeoutMs: number;
  indexPageSize: number;
}

export const defaultExportTuning: ExportTuning = { smallLimit: 2_000, lookupChunk: 100, ingestChunk: 10_000, pollMs: 2_000, jobTimeoutMs: 10 * 60_000, indexPageSize: 50_000 };

interface Candidate {
  user: UserProfile;
  /** 1-based position among the users this run exports (errors name it as `line`). */
  line: number;
}

interface Match {
  id: string;
  /** What the record holds now, normalised, in `comparedFields` order. */
  values: string[];
}

type Write = { candidate: Candidate; operation: 'update' | 'create'; record: Record<string, string | number | boolean> };

/** One text form for a value from REST JSON, from Bulk CSV, or about to be written. */
function normalise(value: unknown): string {
  if (value === null || value === undefined || value === '#N/A') return '';
  const text = String(value);
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/.test(text)) {
    const instant = Date.parse(text.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
    if (!Number.isNaN(instant)) return new Date(instant).toISOString();
  }
  return text;
}

/**
 * Bulk API 2.0's `sf__Error` cell: `CODE:message:Field1,Field2 --` (`CODE:message:--` without
 * fields). The message itself may hold colons: the code is before the first, the fields after the last.
 */
export function parseBulkError(cell: string | undefined): { statusCode: string; message: string; fields: string[] } {
  const text = (cell ?? '').trim();
  const first = text.indexOf(':');
  if (first < 0) return { statusCode: text || 'UNKNOWN', message: 'the record failed', fields: [] };
  const statusCode = text.slice(0, first);
  let rest = text.slice(first + 1);
  let fields: string[] = [];
  const last = rest.lastIndexOf(':');
  if (last >= 0 && /--\s*$/.test(rest)) {
    fields = rest
      .slice(last + 1)
      .replace(/--\s*$/, '')
      .split(',')
      .map((field) => field.trim())
      .filter(Boolean);
    rest = rest.slice(0, last);
  }
  return { statusCode, message: rest.trim() || 'the record failed', fields };
}

export class SalesforceExport {
  private readonly comparedFields: string[];

  constructor(
    private readonly control: RunControl,
    private readonly api: SalesforceApi,
    private readonly importSettings: SalesforceImportSettings,
    private readonly settings: SalesforceExportSettings,
    private readonly source: ExportSource,
    private readonly tuning: ExportTuning,
  ) {
    this.comparedFields = [settings.userIdField, ...Object.values(settings.mapping)];
  }

  private get checkpoint(): SalesforceCheckpoint {
    return this.control.checkpoint;
  }

  private get counts() {
    return this.control.exportCounts;
  }

  async execute(): Promise<'done' | 'stopped'> {
    const checkpoint = this.checkpoint;
    if (!checkpoint.exportPath) {
      // Decide the path from how many users changed: the first 2,001 tell.
      const first: Candidate[] = [];
      for await (const { candidate } of this.candidates({ kind: 'users', shard: 0 }, 0)) {
        if (!candidate) continue;
        first.push(candidate);
        if (first.length > this.tuning.smallLimit) break;
      }
      if (first.length <= this.tuning.smallLimit) {
        checkpoint.exportPath = 'collections';
        await this.control.guardQuota(Math.ceil(first.length / this.tuning.lookupChunk) * 3);
        await this.exportSmall(first);
        checkpoint.exportDone = true;
        await this.control.progress(true);
        return 'done';
      }
      checkpoint.exportPath = 'bulk';
      checkpoint.exportPosition = { kind: 'users', shard: 0 };
      checkpoint.exportLine = 0;
      await this.control.guardQuota(30);
      await this.control.progress(true);
    }
    return this.exportBulk();
  }

  /** Users changed since the export watermark, with the position after each page. */
  private async *candidates(from: NonNullable<SalesforceCheckpoint['exportPosition']>, firstLine: number) {
    const since = this.checkpoint.exportSince;
    let line = firstLine;
    for await (const page of this.source.users(this.control.run.tenantId, from)) {
      const picked = page.rows.filter((user) => !since || user.updatedAt >= since);
      for (let index = 0; index < picked.length; index += 1) {
        line += 1;
        yield { candidate: { user: picked[index]!, line }, endOfPage: index === picked.length - 1 ? page.next ?? null : undefined };
      }
      if (picked.length === 0) yield { candidate: undefined, endOfPage: page.next ?? null };
    }
  }

  /**
   * The fields to write: the Roster user ID and each mapped property the user has. A property
   * the user lacks is left out, so the record keeps its value (as an empty CSV cell never
   * erases a property, a missing property never erases a Salesforce field).
   */
  private payload(user: UserProfile, operation: 'update' | 'create'): Record<string, string | number | boolean> {
    const types = this.settings.fieldTypes;
    const record: Record<string, string | number | boolean> = { [this.settings.userIdField]: user.userId };
    for (const [property, field] of Object.entries(this.settings.mapping)) {
      const value = toSalesforce(user.properties[property], types[field] ?? 'string');
      if (value !== null) record[field] = value;
    }
    if (operation === 'create') record[this.importSettings.emailField] = user.email;
    return record;
  }

  /** Whether the record already holds every value the payload would write. */
  private holds(match: Match, record: Record<string, unknown>): boolean {
    return this.comparedFields.every((field, index) => !(field in record) || normalise(record[field]) === match.values[index]);
  }

  /** What to write for one user given its match (or none): a write, or a count of why nothing is written. */
  private plan(candidate: Candidate, match: Match | undefined): Write | undefined {
    this.counts.users += 1;
    if (match) {
      const record = this.payload(candidate.user, 'update');
      if (this.holds(match, record)) {
        this.counts.unchanged += 1;
        return undefined;
      }
      return { candidate, operation: 'update', record: { Id: match.id, ...record } };
    }
    if (this.settings.mode === 'existing') {
      this.counts.skipped += 1;
      return undefined;
    }
    return { candidate, operation: 'create', record: this.payload(candidate.user, 'create') };
  }

  private fail(candidate: Candidate, statusCode: string, message: string, fields?: string[]) {
    this.counts.failed += 1;
    const run = this.control.run;
    run.errorCount += 1;
    if (run.errors.length < MAX_INLINE_ERRORS) {
      run.errors.push({ line: candidate.line, ...(fields?.[0] ? { column: fields[0] } : {}), value: candidate.user.userId, message: `export: ${statusCode}: ${message}` });
    }
  }

  // --- up to 2,000 users: lookups and sObject Collections -------------------------------------------

  private async exportSmall(candidates: Candidate[]): Promise<void> {
    const select = [...new Set(['Id', this.importSettings.emailField, ...this.comparedFields])].join(', ');
    for (let start = 0; start < candidates.length; start += 200) {
      const chunk = candidates.slice(start, start + 200);
      const byUserId = new Map<string, Match>();
      const byEmail = new Map<string, Match>();
      for (let lookup = 0; lookup < chunk.length; lookup += this.tuning.lookupChunk) {
        const part = chunk.slice(lookup, lookup + this.tuning.lookupChunk);
        const ids = part.map((candidate) => soqlString(candidate.user.userId)).join(', ');
        const emails = part.map((candidate) => soqlString(candidate.user.email)).join(', ');
        let page = await this.api.query(
          `SELECT ${select} FROM ${this.importSettings.object} WHERE ${this.settings.userIdField} IN (${ids}) OR ${this.importSettings.emailField} IN (${emails}) ORDER BY Id`,
        );
        for (;;) {
          for (const record of page.records) this.index(record, byUserId, byEmail);
          if (!page.nextRecordsUrl) break;
          page = await this.api.query(page.nextRecordsUrl);
        }
      }
      const writes = chunk.map((candidate) => this.plan(candidate, byUserId.get(candidate.user.userId) ?? byEmail.get(candidate.user.email))).filter((write): write is Write => write !== undefined);
      for (const operation of ['update', 'create'] as const) {
        const batch = writes.filter((write) => write.operation === operation);
        if (batch.length === 0) continue;
        let results: SaveResult[];
        try {
          results = await this.api.collections(operation, this.importSettings.object, batch.map((write) => write.record));
        } catch (error) {
          const code = (error as { errorCode?: string }).errorCode ?? 'REQUEST_FAILED';
          if (code === 'REQUEST_LIMIT_EXCEEDED' || code === 'INVALID_SESSION_ID') throw error;
          for (const write of batch) this.fail(write.candidate, code, (error as Error).message);
          continue;
        }
        results.forEach((result, index) => {
          const write = batch[index]!;
          if (result.success) this.counts[operation === 'create' ? 'created' : 'updated'] += 1;
          else {
            const first = result.errors[0];
            this.fail(write.candidate, first?.statusCode ?? 'UNKNOWN', first?.message ?? 'Salesforce did not save the record', first?.fields);
          }
        });
      }
      await this.control.progress();
    }
  }

  /** Records the match keys of one org record (first record wins for an email several records share). */
  private index(record: Record<string, unknown>, byUserId: Map<string, Match>, byEmail: Map<string, Match>) {
    const match: Match = { id: String(record.Id), values: this.comparedFields.map((field) => normalise(record[field])) };
    const userId = record[this.settings.userIdField];
    if (typeof userId === 'string' && userId && !byUserId.has(userId)) byUserId.set(userId, match);
    const email = record[this.importSettings.emailField];
    if (typeof email === 'string' && email) {
      const key = email.trim().toLowerCase();
      if (!byEmail.has(key)) byEmail.set(key, match);
    }
  }

  // --- more: a Bulk query for the match index, Bulk ingest jobs to write ------------------------------

  private async exportBulk(): Promise<'done' | 'stopped'> {
    const byUserId = new Map<string, Match>();
    const byEmail = new Map<string, Match>();
    const select = [...new Set(['Id', this.importSettings.emailField, ...this.comparedFields])].join(', ');
    // Rebuilt by every invocation: it is the org's state now, and too large to checkpoint.
    const jobId = await this.api.createQueryJob(`SELECT ${select} FROM ${this.importSettings.object} WHERE ${this.settings.userIdField} != null OR ${this.importSettings.emailField} != null`);
    await this.waitFor(jobId, 'query');
    let locator: string | undefined;
    do {
      const page = await this.api.queryJobPage(jobId, locator, this.tuning.indexPageSize);
      for (const row of page.rows) this.index(row, byUserId, byEmail);
      locator = page.locator;
    } while (locator);

    const checkpoint = this.checkpoint;
    let chunk: Write[] = [];
    for await (const { candidate, endOfPage } of this.candidates(checkpoint.exportPosition!, checkpoint.exportLine ?? 0)) {
      if (candidate) {
        const write = this.plan(candidate, byUserId.get(candidate.user.userId) ?? byEmail.get(candidate.user.email));
        if (write) chunk.push(write);
      }
      if (endOfPage === undefined) continue;
      // A page boundary: a safe place to write what is gathered and save the position.
      if (chunk.length >= this.tuning.ingestChunk || endOfPage === null) {
        await this.ingest(chunk);
        chunk = [];
      }
      if (chunk.length === 0) {
        checkpoint.exportPosition = (endOfPage ?? undefined) as SalesforceCheckpoint['exportPosition'];
        checkpoint.exportLine = candidate?.line ?? checkpoint.exportLine;
        await this.control.progress(true);
        if (endOfPage && this.control.outOfTime()) return 'stopped';
      }
    }
    if (chunk.length > 0) await this.ingest(chunk);
    checkpoint.exportDone = true;
    await this.control.progress(true);
    return 'done';
  }

  private async ingest(writes: Write[]): Promise<void> {
    for (const operation of ['update', 'create'] as const) {
      const batch = writes.filter((write) => write.operation === operation);
      if (batch.length === 0) continue;
      const columns = [...new Set(batch.flatMap((write) => Object.keys(write.record)))];
      // A marker column ties each result row back to its user: results do not keep the upload's order.
      const csv = stringify(
        batch.map((write) => columns.map((column) => (column in write.record ? toCsvCell(write.record[column]!) : ''))),
        { header: true, columns, record_delimiter: 'unix' },
      );
      const jobId = await this.api.createIngestJob(this.importSettings.object, operation === 'create' ? 'insert' : 'update');
      try {
        await this.api.uploadIngestData(jobId, csv);
        await this.api.setIngestState(jobId, 'UploadComplete');
      } catch (error) {
        await this.api.setIngestState(jobId, 'Aborted').catch(() => undefined);
        throw error;
      }
      await this.waitFor(jobId, 'ingest');
      const byUser = new Map(batch.map((write) => [String(write.record[this.settings.userIdField]), write]));
      const succeeded = await this.api.ingestResults(jobId, 'successfulResults');
      this.counts[operation === 'create' ? 'created' : 'updated'] += succeeded.length;
      for (const row of await this.api.ingestResults(jobId, 'failedResults')) {
        const write = byUser.get(row[this.settings.userIdField] ?? '');
        const failure = parseBulkError(row.sf__Error);
        const candidate = write?.candidate ?? { user: { userId: row[this.settings.userIdField] ?? '', email: '', properties: {}, createdAt: '', updatedAt: '' }, line: 0 };
        this.fail(candidate, failure.statusCode, failure.message, failure.fields);
      }
      const unprocessed = await this.api.ingestResults(jobId, 'unprocessedrecords');
      for (const row of unprocessed) {
        const write = byUser.get(row[this.settings.userIdField] ?? '');
        if (write) this.fail(write.candidate, 'UNPROCESSED', 'Salesforce did not process the record');
      }
    }
  }

  /** Polls a job to its end; past the time limit it is aborted and the run fails. */
  private async waitFor(jobId: string, kind: 'query' | 'ingest'): Promise<void> {
    const started = Date.now();
    for (;;) {
      const state = kind === 'query' ? await this.api.queryJob(jobId) : await this.api.ingestJob(jobId);
      if (state.state === 'JobComplete') return;
      if (state.state === 'Failed' || state.state === 'Aborted') {
        throw new SalesforceRunError('bulk_job_failed', `the Bulk API ${kind} job ${jobId} ended ${state.state}${state.errorMessage ? `: ${state.errorMessage}` : ''}`);
      }
      if (Date.now() - started > this.tuning.jobTimeoutMs) {
        await (kind === 'query' ? this.api.abortQueryJob(jobId) : this.api.setIngestState(jobId, 'Aborted')).catch(() => undefined);
        throw new SalesforceRunError(
          'bulk_job_timeout',
          `the Bulk API ${kind} job ${jobId} did not finish within ${Math.round(this.tuning.jobTimeoutMs / 1000)} s (state ${state.state}); it was aborted and its records were not counted as exported`,
        );
      }
      await this.control.sleep(this.tuning.pollMs);
    }
  }
}
