import { clipErrorValue, MAX_INLINE_ERRORS, type RowError } from '../../imports/import-record.js';
import type { PropertyType } from '../../properties/property.js';
import { upsertUsers, type UpsertContext, type UserChange } from '../../users/user-upsert.js';
import type { SalesforceApi } from './salesforce-api.js';
import { propertyTypeOfField, type SalesforceImportSettings } from './salesforce-settings.js';
import type { RunControl, SalesforceCheckpoint, StampKey } from './salesforce-sync-run.js';
import { fromSalesforce } from './salesforce-values.js';

/**
 * The import half of a Salesforce run. Reads the chosen object's live records changed since
 * the watermark — `SystemModstamp > :since OR (SystemModstamp = :since AND Id > :lastId)`,
 * so records sharing the boundary timestamp are neither lost nor read twice — and sends them
 * through the shared upsert path (`source: "salesforce"`).
 *
 * `COUNT()` first: up to 2,000 records a REST query (ordered by SystemModstamp, Id, paged by
 * `nextRecordsUrl`; a new invocation resumes after the last record it applied); above, a
 * Bulk API 2.0 query job whose results are read one locator page at a time (never all in
 * memory; a new invocation resumes at the saved locator). A job that does not finish in
 * time is aborted and the run fails: never left open, never counted as success.
 */
export const REST_LIMIT = 2_000;

export interface ImportSettings {
  /** Up to this many records a REST query, above a Bulk API 2.0 query job. */
  restLimit: number;
  /** Records per Bulk results page (Salesforce's `maxRecords`). */
  bulkPageSize: number;
  /** Records per upsert call. */
  batchSize: number;
  /** Waits between checks of a Bulk job's state. */
  pollMs: number;
  /** A Bulk query job not complete after this long (since it was created) is aborted and the run fails. */
  bulkJobTimeoutMs: number;
}

export const defaultImportSettings: ImportSettings = { restLimit: REST_LIMIT, bulkPageSize: 10_000, batchSize: 2_000, pollMs: 2_000, bulkJobTimeoutMs: 10 * 60_000 };

export class SalesforceRunError extends Error {
  override readonly name = 'SalesforceRunError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Seconds precision: Salesforce keeps datetimes to the second; flooring can only re-read a record, never skip one. */
function soqlDateTime(iso: string): string {
  return `${new Date(Date.parse(iso)).toISOString().slice(0, 19)}Z`;
}

/** A SOQL string literal (backslashes and quotes escaped). */
export const soqlString = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export function sinceCondition(since: StampKey | undefined): string | undefined {
  if (!since) return undefined;
  const stamp = soqlDateTime(since.modstamp);
  return `(SystemModstamp > ${stamp} OR (SystemModstamp = ${stamp} AND Id > ${soqlString(since.id)}))`;
}

/** Later of two (SystemModstamp, Id) keys. */
export function laterKey(a: StampKey | undefined, b: StampKey): StampKey {
  if (!a) return b;
  const left = Date.parse(a.modstamp);
  const right = Date.parse(b.modstamp);
  if (right !== left) return right > left ? b : a;
  return b.id > a.id ? b : a;
}

export class SalesforceImport {
  private types = new Map<string, PropertyType>();

  constructor(
    private readonly control: RunControl,
    private readonly api: SalesforceApi,
    private readonly settings: SalesforceImportSettings,
    private readonly tuning: ImportSettings,
  ) {}

  private get checkpoint(): SalesforceCheckpoint {
    return this.control.checkpoint;
  }

  /** Runs (or continues) the import; `stopped` when out of time (the checkpoint says where to go on). */
  async execute(): Promise<'done' | 'stopped'> {
    const fieldNames = Object.keys(this.settings.fields);
    const suggested = new Map(fieldNames.map((field) => [this.settings.fields[field]!, propertyTypeOfField(this.settings.fieldTypes[field] ?? 'string')]));
    this.types = await this.control.registry.ensure(this.control.run.tenantId, [...suggested.keys()], 'salesforce', undefined, suggested);
    const select = ['Id', 'SystemModstamp', this.settings.emailField, ...fieldNames.filter((name) => name !== 'Id' && name !== 'SystemModstamp')];
    const where = sinceCondition(this.checkpoint.since);
    const from = `FROM ${this.settings.object}`;
    if (!this.checkpoint.importPath) {
      const total = await this.api.count(`SELECT COUNT() ${from}${where ? ` WHERE ${where}` : ''}`);
      this.checkpoint.importPath = total > this.tuning.restLimit ? 'bulk' : 'rest';
      this.checkpoint.expected = total;
      await this.control.guardQuota(this.estimateCalls(total));
    }
    const soql = `SELECT ${select.join(', ')} ${from}`;
    return this.checkpoint.importPath === 'rest' ? this.readRest(soql) : this.readBulk(`${soql}${where ? ` WHERE ${where}` : ''}`);
  }

  /** API requests the import is expected to take (the quota guard's estimate). */
  private estimateCalls(total: number): number {
    return total > this.tuning.restLimit ? 4 + Math.ceil(total / this.tuning.bulkPageSize) + Math.ceil(this.tuning.bulkJobTimeoutMs / this.tuning.pollMs / 10) : 1 + Math.ceil(total / REST_LIMIT);
  }

  private async readRest(select: string): Promise<'done' | 'stopped'> {
    // Resume after the last applied record: the same tie-breaker as the watermark.
    const after = this.checkpoint.after ?? this.checkpoint.since;
    const where = sinceCondition(after);
    let page = await this.api.query(`${select}${where ? ` WHERE ${where}` : ''} ORDER BY SystemModstamp ASC, Id ASC`);
    for (;;) {
      await this.apply(page.records);
      const last = page.records[page.records.length - 1];
      if (last) this.checkpoint.after = { modstamp: String(last.SystemModstamp), id: String(last.Id) };
      await this.control.progress();
      if (!page.nextRecordsUrl) return 'done';
      if (this.control.outOfTime()) return 'stopped';
      page = await this.api.query(page.nextRecordsUrl);
    }
  }

  private async readBulk(soql: string): Promise<'done' | 'stopped'> {
    const checkpoint = this.checkpoint;
    if (!checkpoint.bulkJob) {
      checkpoint.bulkJob = { id: await this.api.createQueryJob(soql), createdAt: new Date().toISOString(), complete: false };
      await this.control.progress(true);
    }
    const job = checkpoint.bulkJob;
    while (!job.complete) {
      const state = await this.api.queryJob(job.id);
      if (state.state === 'JobComplete') {
        job.complete = true;
        break;
      }
      if (state.state === 'Failed' || state.state === 'Aborted') {
        throw new SalesforceRunError('bulk_query_failed', `the Bulk API query job ${job.id} ended ${state.state}${state.errorMessage ? `: ${state.errorMessage}` : ''}`);
      }
      if (Date.now() - Date.parse(job.createdAt) > this.tuning.bulkJobTimeoutMs) {
        await this.api.abortQueryJob(job.id).catch(() => undefined);
        throw new SalesforceRunError(
          'bulk_job_timeout',
          `the Bulk API query job ${job.id} did not finish within ${Math.round(this.tuning.bulkJobTimeoutMs / 1000)} s (state ${state.state}); it was aborted`,
        );
      }
      if (this.control.outOfTime()) return 'stopped';
      await this.control.sleep(this.tuning.pollMs);
    }
    do {
      const page = await this.api.queryJobPage(job.id, job.locator, this.tuning.bulkPageSize);
      for (let start = 0; start < page.rows.length; start += this.tuning.batchSize) await this.apply(page.rows.slice(start, start + this.tuning.batchSize));
      job.locator = page.locator;
      job.done = page.locator === undefined;
      await this.control.progress(true);
      if (!job.done && this.control.outOfTime()) return 'stopped';
    } while (!job.done);
    return 'done';
  }

  /** Coerces and upserts one batch of records; the watermark candidate follows the latest (SystemModstamp, Id) seen. */
  private async apply(records: Array<Record<string, unknown>>): Promise<void> {
    const { run } = this.control;
    const counts = run.counts;
    const errors: RowError[] = [];
    const changes: UserChange[] = [];
    const lineOf: number[] = [];
    const first = this.checkpoint.rowsRead;
    records.forEach((record, index) => {
      const line = first + index + 1;
      counts.rows += 1;
      const id = String(record.Id ?? '');
      if (record.SystemModstamp) this.checkpoint.latest = laterKey(this.checkpoint.latest, { modstamp: String(record.SystemModstamp), id });
      const properties: UserChange['properties'] = {};
      for (const [field, property] of Object.entries(this.settings.fields)) {
        const coerced = fromSalesforce(record[field], this.settings.fieldTypes[field] ?? 'string', this.types.get(property) ?? 'string');
        if (!coerced.ok) {
          errors.push({ line, column: field, value: clipErrorValue(record[field]), message: `record ${id}: ${coerced.message}` });
          return;
        }
        if (coerced.value !== undefined) properties[property] = coerced.value;
      }
      const email = record[this.settings.emailField];
      changes.push({ email: email === '' ? undefined : email, properties, ref: `${run.runId}:${id}` });
      lineOf.push(line);
    });
    const context: UpsertContext = { tenantId: run.tenantId, mode: this.settings.mode === 'all' ? 'upsert' : 'update_only', source: 'salesforce' };
    const outcomes = changes.length > 0 ? await upsertUsers(this.control.users, context, changes) : [];
    outcomes.forEach((outcome, index) => {
      if (outcome.status === 'failed') {
        const id = String(records[lineOf[index]! - first - 1]?.Id ?? '');
        if (outcome.field !== 'email') {
          // A property (the user would outgrow one item): the field it comes from.
          const field = Object.entries(this.settings.fields).find(([, property]) => property === outcome.field)?.[0] ?? outcome.field;
          errors.push({ line: lineOf[index]!, column: field, message: `record ${id}: ${outcome.message}` });
          return;
        }
        errors.push({ line: lineOf[index]!, column: this.settings.emailField, value: clipErrorValue(changes[index]!.email), message: `record ${id}: ${outcome.message}` });
        return;
      }
      counts[outcome.status] += 1;
    });
    counts.failed += errors.length;
    errors.sort((a, b) => a.line - b.line);
    for (const error of errors) if (run.errors.length < MAX_INLINE_ERRORS) run.errors.push(error);
    run.errorCount += errors.length;
    this.checkpoint.rowsRead = first + records.length;
  }
}

