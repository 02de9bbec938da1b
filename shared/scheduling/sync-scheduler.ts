/**
 * The port to per-tenant sync schedules (EventBridge Scheduler deployed, the local
 * scheduler otherwise). One schedule per tenant and integration, in the stack's group.
 */
export interface SyncScheduleSpec {
  expression: string;
  /** What the sync function receives when the schedule fires. */
  input: Record<string, unknown>;
  /** The function the schedule invokes when it is not the scheduler's default one (the PostgreSQL sync). */
  targetArn?: string;
}

export interface SyncScheduler {
  /** Creates or replaces the schedule. */
  put(name: string, spec: SyncScheduleSpec): Promise<void>;
  /** Removes it; a schedule that does not exist is not an error. */
  delete(name: string): Promise<void>;
}

/** `<tenant>-<kind>`: tenant IDs are 3–40 of `a-z0-9-`, within Scheduler's 64-character name rule. */
export const syncScheduleName = (tenantId: string, kind: 'postgres' | 'salesforce') => `${tenantId}-${kind}`;

/** Default schedule: midnight UTC (API.md). */
export const DEFAULT_SYNC_SCHEDULE = 'cron(0 0 * * ? *)';
/** Each firing starts at a random moment within this window, so thousands of tenants do not start in the same second. */
export const SYNC_FLEXIBLE_WINDOW_MINUTES = 30;
