/** An export job (`POST /exports`): what to export, how far it got, and where the file is. */
export type ExportKind = 'users' | 'events';
export type ExportStatus = 'processing' | 'completed' | 'failed';

export interface UsersExportSpec {
  kind: 'users';
  /** Property columns after the fixed ones; absent = every property of the tenant at start. */
  properties?: string[];
}

export interface EventsExportSpec {
  kind: 'events';
  types?: string[];
  /** Inclusive ISO bounds on `occurredAt` (already widened to whole days when date-only). */
  from?: string;
  to?: string;
}

export type ExportSpec = UsersExportSpec | EventsExportSpec;

/** Where the next invocation resumes: users by shard and key, events by day and last timestamp. */
export type ExportPosition =
  | { kind: 'users'; shard: number; startKey?: Record<string, unknown> }
  | { kind: 'events'; day?: string; after?: string };

export interface ExportCheckpoint {
  /** CSV parts already uploaded (`exports/<tenant>/<exportId>/part-NNNNNN.csv`). */
  parts: number;
  rows: number;
  /** Null once every row is in a part: only publishing is left. */
  position: ExportPosition | null;
  /** The columns fixed at the start (property columns are chosen once, for every part). */
  columns: string[];
}

export interface ExportRecord {
  exportId: string;
  tenantId: string;
  spec: ExportSpec;
  status: ExportStatus;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  rows: number;
  checkpoint?: ExportCheckpoint;
  error?: { code: string; message: string };
  leaseId?: string;
  leaseExpiresAt: number;
  /** Failed attempts so far; the job is marked failed after a few (instead of retrying forever). */
  failures: number;
}

export const exportKey = (tenantId: string, exportId: string) => `exports/${tenantId}/${exportId}.csv`;
export const exportPartKey = (tenantId: string, exportId: string, part: number) =>
  `exports/${tenantId}/${exportId}/part-${String(part).padStart(6, '0')}.csv`;
