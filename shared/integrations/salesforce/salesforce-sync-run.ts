import { randomUUID } from 'node:crypto';
import type { ExportPosition } from '../../exports/export-record.js';
import type { ExportSource } from '../../exports/export-sources.js';
import { logger } from '../../logging/logger.js';
import { recordRows, recordSyncRun } from '../../observability/metrics.js';
import type { PropertyRegistry } from '../../properties/property-registry.js';
import type { UserStore } from '../../users/user-store.js';
import type { IntegrationStore } from '../integration-store.js';
import { LeaseLostError, runSyncInvocation, type SyncInvocationResult } from '../sync-run-lifecycle.js';
import { emptyExportCounts, newRun, type ExportCounts, type RunTrigger, type SyncRun } from '../sync-run.js';
import { isLimitExceeded, SalesforceApi, SalesforceApiError, type ApiOptions } from './salesforce-api.js';
import { defaultExportTuning, SalesforceExport, type ExportTuning } from './salesforce-export.js';
import { defaultImportSettings, SalesforceImport, SalesforceRunError, type ImportSettings } from './salesforce-import.js';
import type { SalesforceSettings } from './salesforce-settings.js';
import { SalesforceDisconnectedError, type TokenKeeper } from './salesforce-tokens.js';

/**
 * One Salesforce run: the quota guard, then the import, then the export (API.md: a run with
 * both enabled imports first). One run per tenant at a time (the integration store's lock
 * and lease); near the Lambda limit the run saves where it is and continues in a new
 * invocation. The watermarks (import: the latest SystemModstamp and Id applied; export: the
 * run's start) move only when the run succeeds.
 */
export interface SalesforceSyncInvocation {
  kind: 'salesforce-sync';
  tenantId: string;
  runId?: string;
  leaseId?: string;
  trigger?: RunTrigger;
}

/** A (SystemModstamp, Id) position in the import's order. */
export interface StampKey {
  modstamp: string;
  id: string;
}

export interface SalesforceWatermark {
  import?: StampKey;
  /** Users changed at or after this were not yet exported. */
  export?: string;
}

export interface SalesforceCheckpoint {
  since?: StampKey;
  exportSince?: string;
  rowsRead: number;
  importPath?: 'rest' | 'bulk';
  expected?: number;
  /** REST: the last record applied. */
  after?: StampKey;
  bulkJob?: { id: string; createdAt: string; complete: boolean; locator?: string; done?: boolean };
  /** The latest (SystemModstamp, Id) applied: the next import watermark. */
  latest?: StampKey;
  importDone?: boolean;
  exportPath?: 'collections' | 'bulk';
  exportPosition?: Extract<ExportPosition, { kind: 'users' }>;
  exportLine?: number;
  exportDone?: boolean;
  /** The org's API usage when the run started (what the quota guard measures from). */
  usageAtStart?: { used: number; max: number };
}

export interface SalesforceSyncDependencies {
  integrations: IntegrationStore;
  users: UserStore;
  registry: Pick<PropertyRegistry, 'types' | 'ensure'>;
  exportSource: ExportSource;
  /** The tenant's token keeper (refresh lease, rotation, disconnect). */
  tokens: (tenantId: string) => TokenKeeper;
  continueLater: (invocation: SalesforceSyncInvocation) => Promise<void>;
  apiOptions?: ApiOptions;
  sleep?: (ms: number) => Promise<void>;
}

export interface SalesforceSyncSettings {
  leaseMs: number;
  heartbeatMs: number;
  stopWhenRemainingMs: number;
  maxFailures: number;
  import: ImportSettings;
  export: ExportTuning;
}

export const defaultSalesforceSyncSettings: SalesforceSyncSettings = {
  leaseMs: 120_000,
  heartbeatMs: 20_000,
  stopWhenRemainingMs: 120_000,
  maxFailures: 3,
  import: defaultImportSettings,
  export: defaultExportTuning,
};

export type SalesforceSyncResult = SyncInvocationResult;

/** What the import and export halves share: the run, its checkpoint, progress saving, time and quota. */
export interface RunControl {
  run: SyncRun<SalesforceCheckpoint>;
  checkpoint: SalesforceCheckpoint;
  exportCounts: ExportCounts;
  users: UserStore;
  registry: Pick<PropertyRegistry, 'types' | 'ensure'>;
  /** Saves counts and checkpoint (at most every heartbeat unless `force`), renewing the lease. */
  progress(force?: boolean): Promise<void>;
  outOfTime(): boolean;
  /** Fails the run when `calls` more requests would take the org past the tenant's share of its daily limit. */
  guardQuota(calls: number): Promise<void>;
  sleep(ms: number): Promise<void>;
}

export function newSalesforceRun(tenantId: string, trigger: RunTrigger, configVersion: number, now = new Date()): SyncRun<SalesforceCheckpoint> {
  return newRun('salesforce', tenantId, trigger, configVersion, now, randomUUID().replace(/-/g, '').slice(0, 10));
}

export function parseWatermark(text: string | undefined): SalesforceWatermark {
  if (!text) return {};
  try {
    return JSON.parse(text) as SalesforceWatermark;
  } catch {
    return {};
  }
}

export async function runSalesforceSync(
  deps: SalesforceSyncDependencies,
  invocation: SalesforceSyncInvocation,
  remainingMs: () => number,
  settings: SalesforceSyncSettings = defaultSalesforceSyncSettings,
): Promise<SalesforceSyncResult> {
  let execution: SalesforceSyncRun | undefined;
  return runSyncInvocation<SalesforceSettings | undefined, SalesforceCheckpoint>(
    {
      kind: 'salesforce',
      integrations: deps.integrations,
      leaseMs: settings.leaseMs,
      maxFailures: settings.maxFailures,
      runnable: (item) => item.settings?.enabled === true,
      newRun: (tenantId, trigger, configVersion) => newSalesforceRun(tenantId, trigger, configVersion),
      execute: (run, leaseId) => {
        execution = new SalesforceSyncRun(deps, run, leaseId, settings, remainingMs);
        return execution.execute();
      },
      // A failed run still says how many API requests it sent.
      beforeFail: (run) => void (run.apiCalls = (run.apiCalls ?? 0) + (execution?.callsThisInvocation() ?? 0)),
      readableFailure,
      exhaustedFailure: (error, failures) => {
        const message = error instanceof SalesforceApiError ? `Salesforce kept failing (${error.errorCode}: ${error.message})` : 'the run failed on an internal error';
        return { code: 'sync_failed', message: `${message}, ${failures} times; the watermark did not move` };
      },
    },
    invocation,
  );
}

/** Failures the tenant must act on (or wait out): the run ends `failed` with this at once; a retry would fail the same way. */
function readableFailure(error: unknown): { code: string; message: string } | undefined {
  if (error instanceof SalesforceDisconnectedError) return { code: error.code, message: error.message };
  if (error instanceof SalesforceRunError) return { code: error.code, message: error.message };
  if (isLimitExceeded(error)) return { code: 'api_limit_exceeded', message: `Salesforce refused the run: the org's daily API request limit is used up (${(error as Error).message}); the watermark did not move` };
  if (error instanceof SalesforceApiError && /^(INVALID_FIELD|INVALID_TYPE|MALFORMED_QUERY|INSUFFICIENT_ACCESS|API_DISABLED_FOR_ORG|API_CURRENTLY_DISABLED)/.test(error.errorCode)) {
    return { code: 'salesforce_refused', message: `Salesforce refused the run's request (${error.errorCode}: ${error.message}); check the settings against the org` };
  }
  return undefined;
}

class SalesforceSyncRun implements RunControl {
  checkpoint!: SalesforceCheckpoint;
  exportCounts: ExportCounts;
  private lastSave = Date.now();
  private api: SalesforceApi | undefined;
  private callsBefore: number;

  constructor(
    private readonly deps: SalesforceSyncDependencies,
    readonly run: SyncRun<SalesforceCheckpoint>,
    private readonly leaseId: string,
    private readonly settings: SalesforceSyncSettings,
    private readonly remainingMs: () => number,
  ) {
    this.exportCounts = run.exportCounts ?? emptyExportCounts();
    this.callsBefore = run.apiCalls ?? 0;
  }

  get users() {
    return this.deps.users;
  }

  get registry() {
    return this.deps.registry;
  }

  callsThisInvocation() {
    return this.api?.calls ?? 0;
  }

  sleep(ms: number) {
    return (this.deps.sleep ?? ((wait: number) => new Promise<void>((resolve) => setTimeout(resolve, wait))))(ms);
  }

  outOfTime() {
    return this.remainingMs() < this.settings.stopWhenRemainingMs;
  }

  async execute(): Promise<SalesforceSyncResult> {
    const { tenantId } = this.run;
    const item = await this.deps.integrations.get<SalesforceSettings>(tenantId, 'salesforce');
    if (!item?.settings) throw new SalesforceRunError('not_configured', 'the Salesforce integration has no settings; PUT /integrations/salesforce first');
    if (item.connection?.disconnected) throw new SalesforceDisconnectedError(`${item.connection.disconnected.reason}`);
    const settings = item.settings;
    this.run.invocations += 1;
    const watermark = item.configVersion === this.run.configVersion ? parseWatermark(item.watermark) : {};
    this.checkpoint = this.run.checkpoint ?? { rowsRead: 0, ...(watermark.import ? { since: watermark.import } : {}), ...(watermark.export ? { exportSince: watermark.export } : {}) };
    this.api = await SalesforceApi.open(this.deps.tokens(tenantId), this.deps.apiOptions);

    // The quota guard reads the org's usage at the start of every invocation.
    const usage = await this.api.limits();
    this.checkpoint.usageAtStart ??= usage;
    await this.guardQuota(1, usage, settings.maxApiShare);

    if (settings.import.enabled && !this.checkpoint.importDone) {
      const outcome = await new SalesforceImport(this, this.api, settings.import, this.settings.import).execute();
      if (outcome === 'stopped') return this.handOver();
      this.checkpoint.importDone = true;
      await this.progress(true);
    }
    if (settings.export?.enabled && settings.import.enabled && !this.checkpoint.exportDone) {
      const outcome = await new SalesforceExport(this, this.api, settings.import, settings.export, this.deps.exportSource, this.settings.export).execute();
      if (outcome === 'stopped') return this.handOver();
    }
    const next: SalesforceWatermark = {
      import: this.checkpoint.latest ?? this.checkpoint.since,
      // A failed export record is tried again next run: the export watermark stays until a run exports everything.
      export: this.exportCounts.failed === 0 ? this.run.startedAt : this.checkpoint.exportSince,
    };
    this.run.apiCalls = this.callsBefore + this.api.calls;
    const exported = settings.export?.enabled === true;
    const finished: SyncRun<SalesforceCheckpoint> = {
      ...this.run,
      status: 'succeeded',
      finishedAt: new Date().toISOString(),
      checkpoint: this.checkpoint,
      // Only a run that exported says what the export did.
      exportCounts: exported ? this.exportCounts : undefined,
    };
    if (!(await this.deps.integrations.finishRun(finished, this.leaseId, JSON.stringify(next)))) throw new LeaseLostError('lease lost');
    logger.info('salesforce sync succeeded', { counts: this.run.counts, exportCounts: this.exportCounts, apiCalls: this.run.apiCalls });
    recordRows('salesforce', this.run.counts);
    recordSyncRun('salesforce', 'succeeded', Date.parse(finished.finishedAt!) - Date.parse(this.run.startedAt));
    return 'succeeded';
  }

  private maxShare = 0.5;

  async guardQuota(calls: number, usage = this.api?.usage, share = this.maxShare): Promise<void> {
    this.maxShare = share;
    if (!usage) return;
    const ceiling = Math.floor(usage.max * share);
    if (usage.used + calls > ceiling) {
      throw new SalesforceRunError(
        'api_quota',
        `the run stopped before taking the org past ${Math.round(share * 100)}% of its daily API requests (maxApiShare): ${usage.used} of ${usage.max} are used and the next step needs about ${calls} more`,
      );
    }
  }

  async progress(force = false): Promise<void> {
    // Each saved step also re-checks the quota against what the org's answers report.
    await this.guardQuota(0);
    if (!force && Date.now() - this.lastSave < this.settings.heartbeatMs) return;
    await this.save();
  }

  private async save(): Promise<void> {
    this.lastSave = Date.now();
    this.run.checkpoint = this.checkpoint;
    if (this.checkpoint.exportPath) this.run.exportCounts = this.exportCounts;
    this.run.apiCalls = this.callsBefore + (this.api?.calls ?? 0);
    if (!(await this.deps.integrations.saveProgress(this.run, this.leaseId, Date.now() + this.settings.leaseMs))) throw new LeaseLostError('lease lost');
  }

  private async handOver(): Promise<SalesforceSyncResult> {
    await this.save();
    await this.deps.continueLater({ kind: 'salesforce-sync', tenantId: this.run.tenantId, runId: this.run.runId, leaseId: this.leaseId });
    logger.info('salesforce sync continues in a new invocation', { rowsRead: this.checkpoint.rowsRead });
    return 'continued';
  }
}
