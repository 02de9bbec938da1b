import { randomBytes } from 'node:crypto';
import { NotFoundError, PayloadTooLargeError } from '../errors/domain-errors.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { UpsertMode } from '../users/user-upsert.js';
import type { CsvEncoding } from './csv-encodings.js';
import { emptyCounts, errorReportKey, publicImport, type ImportRecord } from './import-record.js';
import type { ImportStore } from './import-store.js';
import { uploadKey } from './upload-key.js';

/** The API side of imports: create one (presigned upload or pasted CSV), read, list. */
export const PASTED_CSV_MAX_BYTES = 1024 * 1024;
export const UPLOAD_URL_TTL_SECONDS = 15 * 60;
export const ERROR_REPORT_URL_TTL_SECONDS = 15 * 60;

export interface ImportServiceDependencies {
  imports: ImportStore;
  blobs: BlobStore;
  /** Largest file an import accepts (S3 takes up to 5 GB in one PUT). */
  maxUploadBytes: number;
}

export interface CreateImportInput {
  filename?: string;
  sizeBytes?: number;
  encoding?: CsvEncoding;
  mapping?: Record<string, string>;
  emailColumn?: string;
  mode?: UpsertMode;
  csv?: string;
}

/** Time-ordered, unguessable import IDs (`imp_<time base36><64 random bits>`). */
export function newImportId(now = Date.now()): string {
  return `imp_${now.toString(36).padStart(9, '0')}${randomBytes(8).toString('hex')}`;
}

export async function createImport(deps: ImportServiceDependencies, tenantId: string, input: CreateImportInput) {
  const pasted = input.csv;
  if (pasted !== undefined && Buffer.byteLength(pasted, 'utf8') > PASTED_CSV_MAX_BYTES) {
    throw new PayloadTooLargeError(`pasted csv is larger than ${PASTED_CSV_MAX_BYTES} bytes: upload the file instead (POST /imports without csv)`);
  }
  if (input.sizeBytes !== undefined && input.sizeBytes > deps.maxUploadBytes) {
    throw new PayloadTooLargeError(`sizeBytes ${input.sizeBytes} is above the limit of ${deps.maxUploadBytes} bytes`);
  }
  const now = new Date();
  const importId = newImportId(now.getTime());
  const record: ImportRecord = {
    importId,
    tenantId,
    // Pasted CSV is already on its way; an upload waits for the client's PUT.
    status: pasted === undefined ? 'waiting_upload' : 'processing',
    ...(input.filename ? { filename: input.filename } : pasted !== undefined ? { filename: 'pasted.csv' } : {}),
    mode: input.mode ?? 'upsert',
    ...(input.mapping ? { mapping: input.mapping } : {}),
    ...(input.emailColumn ? { emailColumn: input.emailColumn } : {}),
    ...(input.encoding ? { encodingOverride: input.encoding } : {}),
    maxBytes: deps.maxUploadBytes,
    ...(input.sizeBytes !== undefined ? { sizeBytes: input.sizeBytes } : {}),
    createdAt: now.toISOString(),
    counts: emptyCounts(),
    errors: [],
    errorCount: 0,
    duplicateRows: 0,
    leaseExpiresAt: 0,
  };
  await deps.imports.create(record);
  const key = uploadKey(tenantId, importId);
  if (pasted !== undefined) {
    // Same pipeline as an upload: the object's ObjectCreated event starts the importer.
    await deps.blobs.put(key, Buffer.from(pasted, 'utf8'), 'text/csv; charset=utf-8');
    return { status: 202, body: { importId, status: 'processing' as const } };
  }
  const contentType = 'text/csv';
  const uploadUrl = await deps.blobs.presignPut(key, { expiresInSeconds: UPLOAD_URL_TTL_SECONDS, contentType, contentLength: input.sizeBytes });
  return {
    status: 201,
    body: {
      importId,
      status: 'waiting_upload' as const,
      uploadUrl,
      uploadMethod: 'PUT' as const,
      uploadHeaders: { 'content-type': contentType },
      expiresAt: new Date(now.getTime() + UPLOAD_URL_TTL_SECONDS * 1000).toISOString(),
      maxBytes: input.sizeBytes ?? deps.maxUploadBytes,
    },
  };
}

/** The import as the API shows it, with a fresh presigned `errorReportUrl` when it has a report (signing is local: no request). */
async function importAnswer(deps: ImportServiceDependencies, record: ImportRecord) {
  const url = record.hasErrorReport
    ? await deps.blobs.presignGet(errorReportKey(record), { expiresInSeconds: ERROR_REPORT_URL_TTL_SECONDS, filename: `${record.importId}-errors.csv` })
    : undefined;
  return publicImport(record, url);
}

export async function getImport(deps: ImportServiceDependencies, tenantId: string, importId: string) {
  const record = await deps.imports.get(tenantId, importId);
  if (!record) throw new NotFoundError(`no import ${importId}`);
  return importAnswer(deps, record);
}

/** Newest first; each item is the same shape as `GET /imports/{importId}`. */
export async function listImports(deps: ImportServiceDependencies, tenantId: string, limit: number, cursor?: string) {
  const page = await deps.imports.list(tenantId, limit, cursor);
  return { items: await Promise.all(page.items.map((record) => importAnswer(deps, record))), nextCursor: page.nextCursor };
}
