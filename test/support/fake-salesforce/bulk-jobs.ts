/**
 * Bulk API 2.0 jobs of one org: query jobs (a snapshot taken at creation, served as CSV pages with
 * Sforce-Locator) and ingest jobs (CSV upload, processing with the same per-record rules as sObject
 * Collections, successful / failed / unprocessed results as CSV).
 *
 * Jobs move on when the client checks them, not by timers, so tests are deterministic:
 * created -> 1st status check InProgress -> 2nd status check JobComplete (unless stalled).
 */
import { parse } from 'csv-parse/sync';
import { compileSoql } from './soql.js';
import {
  ApiError,
  formatDateTime,
  formatDateTimeBulk,
  isNumberType,
  type FieldDef,
  type OrgData,
  type Row,
  type Table,
  type WriteError,
} from './org-data.js';

/** Records per results page when the client gives no maxRecords (Salesforce picks a size itself). */
export const DEFAULT_QUERY_PAGE_SIZE = 50_000;
/** Rows per chunk written to the socket while streaming a results page. */
const CSV_CHUNK_ROWS = 1_000;
/** Salesforce counts one batch per 10,000 ingested records against DailyBulkApiBatches. */
const RECORDS_PER_BATCH = 10_000;

const DELIMITERS: Record<string, string> = { COMMA: ',', TAB: '\t', PIPE: '|', SEMICOLON: ';', CARET: '^', BACKQUOTE: '`' };
const LINE_ENDINGS: Record<string, string> = { LF: '\n', CRLF: '\r\n' };

export interface BulkOrgContext {
  data: OrgData;
  userId: string;
  readonly ingestJobsStalled: boolean;
  readonly queryJobsStalled: boolean;
  /** The failure message queued by failNextQueryJob, consumed by the next query job. */
  takeQueryJobFailure(): string | undefined;
  bulkQueryJobsCreated: number;
  bulkBatchesUsed: number;
}

type QueryState = 'UploadComplete' | 'InProgress' | 'JobComplete' | 'Failed' | 'Aborted';
type IngestState = 'Open' | 'UploadComplete' | 'InProgress' | 'JobComplete' | 'Failed' | 'Aborted';

interface JobBase {
  id: string;
  object: string;
  apiVersion: string;
  createdDate: number;
  systemModstamp: number;
  columnDelimiter: string;
  lineEnding: string;
  checks: number;
}

interface QueryJob extends JobBase {
  operation: 'query' | 'queryAll';
  state: QueryState;
  fields: FieldDef[];
  rows: Row[];
  failure?: string;
  errorMessage?: string;
}

interface IngestResult {
  id: string;
  created: boolean;
  cells: string[];
}

interface IngestJob extends JobBase {
  operation: 'insert' | 'update' | 'upsert' | 'delete';
  externalIdFieldName?: string;
  state: IngestState;
  uploads: Buffer[];
  header: string[];
  successful: IngestResult[];
  failed: Array<{ id: string; error: string; cells: string[] }>;
  unprocessed: string[][];
  errorMessage?: string;
}

/** One page of query results, ready to stream. */
export interface ResultsPage {
  locator: string;
  numberOfRecords: number;
  chunks: Iterable<string>;
}

const notFound = () => new ApiError(404, 'NOT_FOUND', 'The requested resource does not exist');
const jobState = (message: string) => new ApiError(400, 'INVALIDJOBSTATE', message);

/** Salesforce quotes every value in the CSV it writes, doubling embedded quotes. */
const quote = (value: string) => `"${value.replace(/"/g, '""')}"`;

/** A sf__Error cell as Salesforce writes it: CODE:message:Field1,Field2 -- (or CODE:message:-- without fields). */
export function formatBulkError(error: WriteError): string {
  return `${error.statusCode}:${error.message}:${error.fields.length ? `${error.fields.join(',')} ` : ''}--`;
}

/** A stored value as Bulk API 2.0 query results write it (null is an empty quoted cell). */
function bulkCell(field: FieldDef, value: unknown): string {
  if (value === null || value === undefined) return '';
  if (field.type === 'datetime') return formatDateTimeBulk(value as number);
  // Bulk writes doubles with a fraction (100.0) where REST JSON writes 100.
  if (isNumberType(field.type) && field.type !== 'int' && Number.isInteger(value)) return (value as number).toFixed(1);
  return String(value);
}

export class BulkJobs {
  private readonly queryJobs = new Map<string, QueryJob>();
  private readonly ingestJobs = new Map<string, IngestJob>();

  constructor(private readonly org: BulkOrgContext) {}

  list(): { query: Array<{ id: string; state: string }>; ingest: Array<{ id: string; state: string }> } {
    return {
      query: [...this.queryJobs.values()].map((j) => ({ id: j.id, state: j.state })),
      ingest: [...this.ingestJobs.values()].map((j) => ({ id: j.id, state: j.state })),
    };
  }

  // -------------------------------------------------------------------------------------------
  // Query jobs
  // -------------------------------------------------------------------------------------------

  createQueryJob(body: Record<string, unknown>, apiVersion: string): Record<string, unknown> {
    const operation = body.operation ?? 'query';
    if (operation !== 'query' && operation !== 'queryAll') throw new ApiError(400, 'INVALIDJOB', `InvalidJob : Invalid operation: ${String(operation)}`);
    if (typeof body.query !== 'string') throw new ApiError(400, 'INVALIDJOB', 'InvalidJob : Required field is missing: query');
    const { columnDelimiter, lineEnding } = this.csvOptions(body);
    const compiled = compileSoql(body.query, (name) => this.org.data.table(name));
    if (compiled.fields === 'count') throw new ApiError(400, 'API_ERROR', 'Aggregate queries are not supported by Bulk API 2.0 query jobs');
    const now = this.org.data.now();
    const failure = this.org.takeQueryJobFailure();
    const job: QueryJob = {
      id: this.org.data.newId('750'),
      object: compiled.table.schema.name,
      apiVersion,
      createdDate: now,
      systemModstamp: now,
      columnDelimiter,
      lineEnding,
      checks: 0,
      operation,
      state: 'UploadComplete',
      fields: compiled.fields,
      // The snapshot: later writes replace rows, so these references keep today's values.
      rows: compiled.run({ includeDeleted: operation === 'queryAll' }),
      ...(failure !== undefined ? { failure } : {}),
    };
    this.queryJobs.set(job.id, job);
    this.org.bulkQueryJobsCreated++;
    return this.queryInfo(job, false);
  }

  private csvOptions(body: Record<string, unknown>): { columnDelimiter: string; lineEnding: string } {
    const columnDelimiter = (body.columnDelimiter as string | undefined) ?? 'COMMA';
    const lineEnding = (body.lineEnding as string | undefined) ?? 'LF';
    if (!(columnDelimiter in DELIMITERS)) throw new ApiError(400, 'INVALIDJOB', `InvalidJob : Invalid column delimiter: ${columnDelimiter}`);
    if (!(lineEnding in LINE_ENDINGS)) throw new ApiError(400, 'INVALIDJOB', `InvalidJob : Invalid line ending: ${lineEnding}`);
    return { columnDelimiter, lineEnding };
  }

  private queryJob(id: string): QueryJob {
    const job = this.queryJobs.get(id);
    if (!job) throw notFound();
    return job;
  }

  /** GET /jobs/query/{id}: each status check moves the job on. */
  checkQueryJob(id: string): Record<string, unknown> {
    const job = this.queryJob(id);
    if (job.state === 'UploadComplete' || job.state === 'InProgress') {
      job.checks++;
      if (job.checks === 1 || this.org.queryJobsStalled) {
        job.state = 'InProgress';
      } else if (job.failure !== undefined) {
        job.state = 'Failed';
        job.errorMessage = job.failure;
      } else {
        job.state = 'JobComplete';
      }
      job.systemModstamp = this.org.data.now();
    }
    return this.queryInfo(job, true);
  }

  private queryInfo(job: QueryJob, detailed: boolean): Record<string, unknown> {
    const info: Record<string, unknown> = {
      id: job.id,
      operation: job.operation,
      object: job.object,
      createdById: this.org.userId,
      createdDate: formatDateTime(job.createdDate),
      systemModstamp: formatDateTime(job.systemModstamp),
      state: job.state,
      concurrencyMode: 'Parallel',
      contentType: 'CSV',
      apiVersion: Number(job.apiVersion),
      lineEnding: job.lineEnding,
      columnDelimiter: job.columnDelimiter,
    };
    if (detailed) {
      Object.assign(info, {
        jobType: 'V2Query',
        numberRecordsProcessed: job.state === 'JobComplete' ? job.rows.length : 0,
        retries: 0,
        totalProcessingTime: job.state === 'JobComplete' ? 42 : 0,
        ...(job.errorMessage !== undefined ? { errorMessage: job.errorMessage } : {}),
      });
    }
    return info;
  }

  /** PATCH /jobs/query/{id} {"state":"Aborted"} */
  patchQueryJob(id: string, body: Record<string, unknown>): Record<string, unknown> {
    const job = this.queryJob(id);
    if (body.state !== 'Aborted') throw new ApiError(400, 'INVALIDJOB', `InvalidJob : Invalid state: ${String(body.state)}`);
    if (job.state === 'JobComplete' || job.state === 'Failed' || job.state === 'Aborted') {
      throw jobState(`Aborting already ${job.state === 'JobComplete' ? 'Completed' : job.state} Job not allowed`);
    }
    job.state = 'Aborted';
    job.systemModstamp = this.org.data.now();
    return this.queryInfo(job, false);
  }

  deleteQueryJob(id: string): void {
    this.queryJob(id);
    this.queryJobs.delete(id);
  }

  allQueryJobs(): Record<string, unknown>[] {
    return [...this.queryJobs.values()].map((j) => this.queryInfo(j, false));
  }

  /**
   * GET /jobs/query/{id}/results: a page of the snapshot. The locator is the base64 of the next offset
   * (Salesforce's own locators look the same, e.g. MTAwMDA); the last page answers locator "null".
   */
  queryResults(id: string, locator: string | null, maxRecords: string | null): ResultsPage {
    const job = this.queryJob(id);
    if (job.state !== 'JobComplete') throw jobState(`Job state is not JobComplete: ${job.state}`);
    let offset = 0;
    if (locator) {
      const decoded = Buffer.from(locator, 'base64').toString('utf8');
      if (!/^\d+$/.test(decoded) || Number(decoded) > job.rows.length) throw new ApiError(400, 'INVALIDLOCATOR', `Invalid locator: ${locator}`);
      offset = Number(decoded);
    }
    let size = DEFAULT_QUERY_PAGE_SIZE;
    if (maxRecords !== null) {
      size = Number(maxRecords);
      if (!Number.isInteger(size) || size <= 0) throw new ApiError(400, 'INVALIDMAXRECORDS', `Invalid maxRecords: ${maxRecords}`);
    }
    const end = Math.min(job.rows.length, offset + size);
    const next = end < job.rows.length ? Buffer.from(String(end)).toString('base64').replace(/=+$/, '') : 'null';
    const delimiter = DELIMITERS[job.columnDelimiter] as string;
    const eol = LINE_ENDINGS[job.lineEnding] as string;
    const { fields, rows } = job;
    function* chunks(): Generator<string> {
      yield fields.map((f) => quote(f.name)).join(delimiter) + eol;
      for (let start = offset; start < end; start += CSV_CHUNK_ROWS) {
        let chunk = '';
        const stop = Math.min(end, start + CSV_CHUNK_ROWS);
        for (let i = start; i < stop; i++) {
          const row = rows[i] as Row;
          let line = '';
          for (let f = 0; f < fields.length; f++) {
            const field = fields[f] as FieldDef;
            if (f) line += delimiter;
            line += quote(bulkCell(field, row[field.index]));
          }
          chunk += line + eol;
        }
        yield chunk;
      }
    }
    return { locator: next, numberOfRecords: end - offset, chunks: chunks() };
  }

  // -------------------------------------------------------------------------------------------
  // Ingest jobs
  // -------------------------------------------------------------------------------------------

  createIngestJob(body: Record<string, unknown>, apiVersion: string): Record<string, unknown> {
    const operation = body.operation;
    if (operation !== 'insert' && operation !== 'update' && operation !== 'upsert' && operation !== 'delete') {
      throw new ApiError(400, 'INVALIDJOB', `InvalidJob : Invalid operation: ${String(operation)}`);
    }
    if (typeof body.object !== 'string') throw new ApiError(400, 'INVALIDJOB', 'InvalidJob : Required field is missing: object');
    const table = this.org.data.table(body.object);
    if (!table) throw new ApiError(400, 'INVALIDJOB', `InvalidJob : Unable to find object: ${body.object}`);
    if ((body.contentType ?? 'CSV') !== 'CSV') throw new ApiError(400, 'INVALIDJOB', `InvalidJob : Invalid content type: ${String(body.contentType)}`);
    let externalIdFieldName: string | undefined;
    if (operation === 'upsert') {
      const name = body.externalIdFieldName;
      if (typeof name !== 'string') throw new ApiError(400, 'INVALIDJOB', 'InvalidJob : External ID was blank for upsert');
      const field = table.schema.field(name);
      if (!field || !(field.externalId || field.type === 'id')) {
        throw new ApiError(400, 'INVALIDJOB', `InvalidJob : Field name provided, ${name} is not an External ID or indexed field for ${table.schema.name}`);
      }
      externalIdFieldName = field.name;
    }
    const { columnDelimiter, lineEnding } = this.csvOptions(body);
    const now = this.org.data.now();
    const job: IngestJob = {
      id: this.org.data.newId('750'),
      object: table.schema.name,
      apiVersion,
      createdDate: now,
      systemModstamp: now,
      columnDelimiter,
      lineEnding,
      checks: 0,
      operation,
      ...(externalIdFieldName ? { externalIdFieldName } : {}),
      state: 'Open',
      uploads: [],
      header: [],
      successful: [],
      failed: [],
      unprocessed: [],
    };
    this.ingestJobs.set(job.id, job);
    return this.ingestInfo(job, false);
  }

  private ingestJob(id: string): IngestJob {
    const job = this.ingestJobs.get(id);
    if (!job) throw notFound();
    return job;
  }

  /** PUT /jobs/ingest/{id}/batches: Bulk API 2.0 takes one upload per job. */
  upload(id: string, data: Buffer): void {
    const job = this.ingestJob(id);
    if (job.state !== 'Open') throw jobState(`Job is not open for uploads: ${job.state}`);
    if (job.uploads.length) {
      throw jobState(
        `Found multiple contents for job: <${job.id}>, please 'Close' / 'Abort' / 'Delete' the current Job then create a new Job and make sure you only do 'PUT' once on a given Job.`,
      );
    }
    job.uploads.push(data);
  }

  /** PATCH /jobs/ingest/{id}: UploadComplete starts processing, Aborted stops the job. */
  patchIngestJob(id: string, body: Record<string, unknown>): Record<string, unknown> {
    const job = this.ingestJob(id);
    if (body.state === 'UploadComplete') {
      if (job.state !== 'Open') throw jobState(`Closing already ${job.state === 'JobComplete' ? 'Completed' : job.state} Job not allowed`);
      job.state = 'UploadComplete';
    } else if (body.state === 'Aborted') {
      if (job.state === 'JobComplete' || job.state === 'Failed' || job.state === 'Aborted') {
        throw jobState(`Aborting already ${job.state === 'JobComplete' ? 'Completed' : job.state} Job not allowed`);
      }
      job.state = 'Aborted';
      // Nothing was applied yet: every uploaded row stays unprocessed.
      this.parseUpload(job, false);
    } else {
      throw new ApiError(400, 'INVALIDJOB', `InvalidJob : Invalid state: ${String(body.state)}`);
    }
    job.systemModstamp = this.org.data.now();
    return this.ingestInfo(job, false);
  }

  /** GET /jobs/ingest/{id}: each status check moves a closed job on; the 2nd one processes it. */
  checkIngestJob(id: string): Record<string, unknown> {
    const job = this.ingestJob(id);
    if (job.state === 'UploadComplete' || job.state === 'InProgress') {
      job.checks++;
      if (job.checks === 1 || this.org.ingestJobsStalled) job.state = 'InProgress';
      else this.process(job);
      job.systemModstamp = this.org.data.now();
    }
    return this.ingestInfo(job, true);
  }

  deleteIngestJob(id: string): void {
    this.ingestJob(id);
    this.ingestJobs.delete(id);
  }

  allIngestJobs(): Record<string, unknown>[] {
    return [...this.ingestJobs.values()].map((j) => this.ingestInfo(j, false));
  }

  private ingestInfo(job: IngestJob, detailed: boolean): Record<string, unknown> {
    const info: Record<string, unknown> = {
      id: job.id,
      operation: job.operation,
      object: job.object,
      createdById: this.org.userId,
      createdDate: formatDateTime(job.createdDate),
      systemModstamp: formatDateTime(job.systemModstamp),
      state: job.state,
      ...(job.externalIdFieldName ? { externalIdFieldName: job.externalIdFieldName } : {}),
      concurrencyMode: 'Parallel',
      contentType: 'CSV',
      apiVersion: Number(job.apiVersion),
      contentUrl: `services/data/v${job.apiVersion}/jobs/ingest/${job.id}/batches`,
      lineEnding: job.lineEnding,
      columnDelimiter: job.columnDelimiter,
    };
    if (detailed) {
      Object.assign(info, {
        jobType: 'V2Ingest',
        numberRecordsProcessed: job.successful.length + job.failed.length,
        numberRecordsFailed: job.failed.length,
        retries: 0,
        totalProcessingTime: job.state === 'JobComplete' ? 120 : 0,
        apiActiveProcessingTime: job.state === 'JobComplete' ? 100 : 0,
        apexProcessingTime: 0,
        ...(job.errorMessage !== undefined ? { errorMessage: job.errorMessage } : {}),
      });
    }
    return info;
  }

  /** Parses the upload into header and rows; a malformed file fails the job (when failOnError). */
  private parseUpload(job: IngestJob, failOnError: boolean): string[][] | undefined {
    const text = Buffer.concat(job.uploads).toString('utf8');
    if (!text.trim()) {
      job.header = [];
      return [];
    }
    try {
      if (job.lineEnding === 'LF' && text.includes('\r\n')) {
        throw new Error('ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is LF');
      }
      const records = parse(text, { delimiter: DELIMITERS[job.columnDelimiter], bom: true, skip_empty_lines: true }) as string[][];
      job.header = records[0] ?? [];
      const rows = records.slice(1);
      job.unprocessed = rows;
      return rows;
    } catch (err) {
      if (failOnError) {
        const message = (err as Error).message;
        this.failJob(job, message.startsWith('ClientInputError') ? message : `ClientInputError : ${message}`);
      }
      return undefined;
    }
  }

  private failJob(job: IngestJob, message: string): void {
    job.state = 'Failed';
    job.errorMessage = message;
  }

  /** Applies every row like Salesforce's batches do (no all-or-none across rows). */
  private process(job: IngestJob): void {
    const rows = this.parseUpload(job, true);
    if (!rows) return;
    const table = this.org.data.table(job.object) as Table;
    const columns = job.header.map((name) => table.schema.field(name));
    const unknown = job.header.find((_, i) => !columns[i]);
    if (unknown !== undefined) {
      this.failJob(job, `InvalidBatch : Field name not found : ${unknown}`);
      return;
    }
    this.org.bulkBatchesUsed += Math.max(1, Math.ceil(rows.length / RECORDS_PER_BATCH));
    const idIndex = job.header.findIndex((name) => name.toLowerCase() === 'id');
    for (const cells of rows) {
      const values: Record<string, unknown> = {};
      job.header.forEach((name, i) => (values[name] = cells[i] ?? ''));
      const givenId = idIndex >= 0 ? (cells[idIndex] ?? '') : '';
      if (job.operation === 'delete') {
        this.deleteRow(job, table, givenId, cells);
        continue;
      }
      const outcome = this.org.data.write(table, {
        operation: job.operation,
        values,
        format: 'csv',
        ...(job.externalIdFieldName ? { externalIdField: table.schema.field(job.externalIdFieldName) as FieldDef } : {}),
      });
      if (outcome.ok) job.successful.push({ id: outcome.id, created: outcome.created, cells });
      else job.failed.push({ id: outcome.id ?? (job.operation === 'insert' ? '' : givenId), error: formatBulkError(outcome.errors[0] as WriteError), cells });
    }
    job.unprocessed = [];
    job.state = 'JobComplete';
  }

  private deleteRow(job: IngestJob, table: Table, givenId: string, cells: string[]): void {
    const fail = (error: WriteError) => job.failed.push({ id: givenId, error: formatBulkError(error), cells });
    const id = givenId.length === 15 || givenId.length === 18 ? givenId : '';
    const row = id ? table.rowById(id) : undefined;
    if (!id) return void fail({ statusCode: 'MALFORMED_ID', message: `${table.schema.label} ID: id value of incorrect type: ${givenId}`, fields: ['Id'] });
    if (!row) return void fail({ statusCode: 'INVALID_CROSS_REFERENCE_KEY', message: 'invalid cross reference id', fields: [] });
    if (row[table.deletedField.index]) return void fail({ statusCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] });
    this.org.data.softDelete(table.schema.name, id);
    job.successful.push({ id, created: false, cells });
  }

  /** GET successfulResults / failedResults / unprocessedrecords as CSV text. */
  ingestResults(id: string, kind: 'successful' | 'failed' | 'unprocessed'): string {
    const job = this.ingestJob(id);
    if (job.state === 'Open' || job.state === 'UploadComplete' || job.state === 'InProgress') {
      if (kind !== 'unprocessed') throw jobState(`Job state is not complete: ${job.state}`);
    }
    const delimiter = DELIMITERS[job.columnDelimiter] as string;
    const eol = LINE_ENDINGS[job.lineEnding] as string;
    const line = (cells: string[]) => cells.map(quote).join(delimiter) + eol;
    if (kind === 'unprocessed') {
      // Rows not yet processed (job still running, aborted or failed): the upload as it came.
      if (job.state === 'Open' || job.state === 'UploadComplete' || job.state === 'InProgress') this.parseUpload(job, false);
      return job.header.length ? line(job.header) + job.unprocessed.map(line).join('') : '';
    }
    if (!job.header.length) return kind === 'successful' ? line(['sf__Id', 'sf__Created']) : line(['sf__Id', 'sf__Error']);
    if (kind === 'successful') {
      return line(['sf__Id', 'sf__Created', ...job.header]) + job.successful.map((r) => line([r.id, String(r.created), ...r.cells])).join('');
    }
    return line(['sf__Id', 'sf__Error', ...job.header]) + job.failed.map((r) => line([r.id, r.error, ...r.cells])).join('');
  }
}
