import type { CsvDelimiter, CsvEncoding, CsvLayout } from './csv-layout.js';
import type { UpsertMode } from '../users/user-upsert.js';

export type ImportStatus = 'waiting_upload' | 'processing' | 'completed' | 'completed_with_errors' | 'failed';

export interface ImportCounts {
  rows: number;
  created: number;
  updated: number;
  unchanged: number;
  skipped: number;
  failed: number;
}

export interface RowError {
  line: number;
  column?: string;
  value?: string;
  message: string;
}

/** Where a run stopped, so the next invocation continues from the next record (S3 ranged GET). */
export interface ImportCheckpoint {
  offset: number;
  line: number;
  columns: string[];
  layout: CsvLayout;
  /** Error-report parts already written to S3. */
  errorParts: number;
}

export interface ImportRecord {
  importId: string;
  tenantId: string;
  status: ImportStatus;
  filename?: string;
  mode: UpsertMode;
  mapping?: Record<string, string>;
  emailColumn?: string;
  encodingOverride?: CsvEncoding;
  encoding?: CsvEncoding;
  delimiter?: CsvDelimiter;
  maxBytes: number;
  /** When the client declared the size, the URL was signed for exactly this many bytes. */
  sizeBytes?: number;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  counts: ImportCounts;
  errors: RowError[];
  errorCount: number;
  /** Rows whose email appeared earlier in the same file (counted as updated or unchanged). */
  duplicateRows: number;
  error?: { code: string; message: string };
  checkpoint?: ImportCheckpoint;
  /** The S3 object version (sequencer) this import was claimed for, and the live lease. */
  objectSequencer?: string;
  leaseId?: string;
  leaseExpiresAt?: number;
  /** Attempts of the event `failedEvent` that ended on an unexpected error; at `maxFailures` (Lambda's last retry of that event) the import is marked failed, else it would stay processing once nothing runs it. */
  failures?: number;
  failedEvent?: string;
  hasErrorReport?: boolean;
}

export const emptyCounts = (): ImportCounts => ({ rows: 0, created: 0, updated: 0, unchanged: 0, skipped: 0, failed: 0 });

export const MAX_INLINE_ERRORS = 100;

/** The full error report of an import: `errors/<tenant>/<importId>.csv`. */
export const errorReportKey = (record: Pick<ImportRecord, 'tenantId' | 'importId'>) => `errors/${record.tenantId}/${record.importId}.csv`;

/** What `GET /imports/{id}` shows (API.md). */
export function publicImport(record: ImportRecord, errorReportUrl?: string) {
  return {
    importId: record.importId,
    status: record.status,
    filename: record.filename ?? null,
    ...(record.encoding ? { encoding: record.encoding } : {}),
    ...(record.delimiter ? { delimiter: record.delimiter } : {}),
    mode: record.mode,
    createdAt: record.createdAt,
    ...(record.finishedAt ? { finishedAt: record.finishedAt } : {}),
    counts: record.counts,
    errors: record.errors,
    errorCount: record.errorCount,
    duplicateRows: record.duplicateRows,
    ...(errorReportUrl ? { errorReportUrl } : {}),
    ...(record.error ? { error: record.error } : {}),
  };
}

/** A source value as a row error shows it: text, at most 200 characters (`undefined` for no value). */
export function clipErrorValue(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  // Numbers as written (NaN, Infinity, which JSON would turn into null); other values as JSON.
  const text = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'bigint' ? String(value) : (JSON.stringify(value) ?? String(value));
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
