import { randomBytes } from 'node:crypto';
import { NotFoundError, ValidationError } from '../errors/domain-errors.js';
import { orderedTimelineBounds } from '../events/event-service.js';
import type { PropertyRegistry } from '../properties/property-registry.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { ExportInvocation } from './export-run.js';
import { exportKey, type ExportRecord, type ExportSpec } from './export-record.js';
import type { ExportStore } from './export-store.js';

/** The API side of exports: start one (`POST /exports`) and read it (`GET /exports/{id}`). */
export const DOWNLOAD_URL_TTL_SECONDS = 60 * 60;

export interface ExportServiceDependencies {
  exports: ExportStore;
  blobs: BlobStore;
  registry: Pick<PropertyRegistry, 'types'>;
  /** Starts the export function asynchronously (deployed: a Lambda `Event` invocation). */
  launch: (invocation: ExportInvocation) => Promise<void>;
}

export type CreateExportInput = { kind: 'users'; properties?: string[] } | { kind: 'events'; types?: string[]; from?: string; to?: string };

/** Time-ordered, unguessable export IDs. */
export const newExportId = (now = Date.now()) => `exp_${now.toString(36).padStart(9, '0')}${randomBytes(8).toString('hex')}`;

export async function createExport(deps: ExportServiceDependencies, tenantId: string, input: CreateExportInput) {
  let spec: ExportSpec;
  if (input.kind === 'users') {
    if (input.properties) {
      const known = await deps.registry.types(tenantId);
      const details = input.properties.flatMap((name, index) => (known.has(name) ? [] : [{ field: `body.properties.${index}`, message: `no property "${name}" (see GET /properties)` }]));
      if (details.length > 0) throw new ValidationError(`unknown properties: ${details.map((d) => d.message).join('; ')}`, details);
    }
    spec = { kind: 'users', ...(input.properties ? { properties: [...new Set(input.properties)] } : {}) };
  } else {
    const bounds = orderedTimelineBounds(input.from, input.to, 'body.from');
    spec = { kind: 'events', ...(input.types?.length ? { types: [...new Set(input.types)] } : {}), ...(bounds.from ? { from: bounds.from } : {}), ...(bounds.to ? { to: bounds.to } : {}) };
  }
  const now = new Date();
  const record: ExportRecord = { exportId: newExportId(now.getTime()), tenantId, spec, status: 'processing', createdAt: now.toISOString(), rows: 0, leaseExpiresAt: 0, failures: 0 };
  await deps.exports.create(record);
  try {
    await deps.launch({ kind: 'export', tenantId, exportId: record.exportId });
  } catch (error) {
    // Never leave a job that nothing will run looking alive.
    await deps.exports.finish(tenantId, record.exportId, undefined, { status: 'failed', error: { code: 'not_started', message: 'the export could not be started; try again' } });
    throw error;
  }
  return { exportId: record.exportId, status: 'processing' as const };
}

export async function getExport(deps: ExportServiceDependencies, tenantId: string, exportId: string) {
  const record = await deps.exports.get(tenantId, exportId);
  if (!record) throw new NotFoundError(`no export ${exportId}`);
  return {
    exportId: record.exportId,
    kind: record.spec.kind,
    status: record.status,
    rows: record.rows,
    createdAt: record.createdAt,
    ...(record.finishedAt ? { finishedAt: record.finishedAt } : {}),
    ...(record.status === 'completed'
      ? {
          downloadUrl: await deps.blobs.presignGet(exportKey(tenantId, exportId), { expiresInSeconds: DOWNLOAD_URL_TTL_SECONDS, filename: `${record.spec.kind}-${exportId}.csv` }),
          expiresAt: new Date(Date.now() + DOWNLOAD_URL_TTL_SECONDS * 1000).toISOString(),
        }
      : {}),
    ...(record.error ? { error: record.error } : {}),
  };
}
