import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, QueryCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure, setExpression } from '../aws/conditional-writes.js';
import { decodeCursor, encodeCursor } from '../pagination/cursor.js';
import type { IntegrationKind, SyncCheckpoint, SyncRun } from './sync-run.js';

/**
 * Integrations and their runs in the control table:
 * - settings: pk `TENANT#<t>#INTEGRATIONS`, sk `<kind>` (no secrets: those are in Secrets Manager);
 * - runs: pk `TENANT#<t>#RUNS#<kind>`, sk `<runId>` (run IDs sort by start time), kept 90 days.
 * The settings item also holds the watermark and the run lock: `activeRunId` with a lease
 * (`activeLeaseId`, `activeLeaseExpiresAt`). Starting a run takes the lock and writes the
 * run in one transaction, so two triggers can never start two runs; every later change a
 * run makes is conditional on its lease.
 */
export interface IntegrationItem<S = Record<string, unknown>> {
  tenantId: string;
  kind: IntegrationKind;
  settings: S;
  /** Bumped by a PUT that changes what the query reads; a run of an older version does not move the watermark. */
  configVersion: number;
  /** The `since` of the next incremental run (ISO), absent before the first successful run. */
  watermark?: string;
  lastRunId?: string;
  activeRunId?: string;
  activeLeaseId?: string;
  activeLeaseExpiresAt?: number;
  /** Salesforce: the org the OAuth callback connected (no tokens: those are in Secrets Manager); `disconnected` once the org refused them. */
  connection?: IntegrationConnection;
  createdAt: string;
  updatedAt: string;
}

export interface IntegrationConnection {
  orgId?: string;
  instanceUrl: string;
  loginUrl: string;
  connectedAt: string;
  disconnected?: { at: string; reason: string };
}

const integrationKey = (tenantId: string, kind: IntegrationKind) => ({ pk: `TENANT#${tenantId}#INTEGRATIONS`, sk: kind });
const runKey = (tenantId: string, kind: IntegrationKind, runId: string) => ({ pk: `TENANT#${tenantId}#RUNS#${kind}`, sk: runId });
const RUN_RETENTION_SECONDS = 90 * 86_400;

export type StartRunResult = { started: true; interrupted?: string } | { started: false; activeRunId?: string; reason: 'busy' | 'missing' };

/** The port to integration settings and runs; `DynamoIntegrationStore` implements it. */
export interface IntegrationStore {
  get<S>(tenantId: string, kind: IntegrationKind): Promise<IntegrationItem<S> | undefined>;
  /** Saves the settings; `resetWatermark` drops the watermark and bumps the version. */
  saveSettings<S>(tenantId: string, kind: IntegrationKind, settings: S, options: { resetWatermark: boolean; now: string }): Promise<IntegrationItem<S>>;
  delete(tenantId: string, kind: IntegrationKind): Promise<boolean>;
  /** Records a fresh connection (creating the item when no settings exist yet); `resetWatermark` when it is another org. */
  saveConnection(tenantId: string, kind: IntegrationKind, connection: IntegrationConnection, options: { resetWatermark: boolean; now: string }): Promise<void>;
  /** Marks the connection refused by the source (GET shows `connected: false` until the next connect). */
  markDisconnected(tenantId: string, kind: IntegrationKind, reason: string, now: string): Promise<void>;
  /** Takes the run lock (free, or held by a run whose lease lapsed) and writes the new run, atomically. */
  startRun(run: SyncRun<unknown>, leaseMs: number, now: Date): Promise<StartRunResult>;
  /** The invocation that works on `runId` takes its lease (fresh, handed over, or lapsed). */
  claimRun<C = SyncCheckpoint>(tenantId: string, kind: IntegrationKind, runId: string, claim: { leaseId: string; continuing?: string; leaseMs: number; now: Date }): Promise<SyncRun<C> | undefined>;
  /** Saves progress (counts, errors, checkpoint) and renews the lease; false when the lease is lost. */
  saveProgress(run: SyncRun<unknown>, leaseId: string, leaseUntil: number): Promise<boolean>;
  /** Ends the run, frees the lock and, on success, moves the watermark (when the settings have not changed since). */
  finishRun(run: SyncRun<unknown>, leaseId: string | undefined, watermark?: string): Promise<boolean>;
  /** Counts a failed attempt and lets the lease lapse so Lambda's retry can take over at once. */
  recordFailure(tenantId: string, kind: IntegrationKind, runId: string, leaseId: string): Promise<number | undefined>;
  getRun<C = SyncCheckpoint>(tenantId: string, kind: IntegrationKind, runId: string): Promise<SyncRun<C> | undefined>;
  listRuns(tenantId: string, kind: IntegrationKind, limit: number, cursor?: string): Promise<{ items: SyncRun[]; nextCursor: string | null }>;
  /** Marks a run failed that never got going (its invocation could not be sent) and frees the lock. */
  abandonRun(run: SyncRun<unknown>, error: { code: string; message: string }): Promise<void>;
}

export class DynamoIntegrationStore implements IntegrationStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async get<S>(tenantId: string, kind: IntegrationKind): Promise<IntegrationItem<S> | undefined> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: integrationKey(tenantId, kind), ConsistentRead: true }));
    return Item ? (strip(Item) as unknown as IntegrationItem<S>) : undefined;
  }

  async saveSettings<S>(tenantId: string, kind: IntegrationKind, settings: S, options: { resetWatermark: boolean; now: string }): Promise<IntegrationItem<S>> {
    const { Attributes } = await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: integrationKey(tenantId, kind),
        UpdateExpression:
          'SET settings = :settings, tenantId = :tenant, kind = :kind, updatedAt = :now, createdAt = if_not_exists(createdAt, :now)' +
          (options.resetWatermark ? ' ADD configVersion :one REMOVE watermark' : ', configVersion = if_not_exists(configVersion, :one)'),
        ExpressionAttributeValues: { ':settings': settings, ':tenant': tenantId, ':kind': kind, ':now': options.now, ':one': 1 },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return strip(Attributes!) as unknown as IntegrationItem<S>;
  }

  /**
   * Deletes the settings. A run still marked running is closed as failed: its invocation stops
   * at its next save (the lock is gone), and nothing else would ever close it (a stale run is
   * otherwise closed by the next `startRun`, which needs the settings item).
   */
  async delete(tenantId: string, kind: IntegrationKind): Promise<boolean> {
    const { Attributes } = await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: integrationKey(tenantId, kind), ReturnValues: 'ALL_OLD' }));
    const activeRunId = Attributes?.activeRunId as string | undefined;
    if (activeRunId) {
      await this.updateRun(tenantId, kind, activeRunId, 'running', {
        status: 'failed',
        finishedAt: new Date().toISOString(),
        error: { code: 'integration_deleted', message: 'the integration was deleted while this run was running' },
      });
    }
    return Attributes !== undefined;
  }

  async saveConnection(tenantId: string, kind: IntegrationKind, connection: IntegrationConnection, options: { resetWatermark: boolean; now: string }): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: integrationKey(tenantId, kind),
        UpdateExpression:
          'SET #connection = :connection, tenantId = :tenant, kind = :kind, updatedAt = :now, createdAt = if_not_exists(createdAt, :now)' +
          (options.resetWatermark ? ' ADD configVersion :one REMOVE watermark' : ', configVersion = if_not_exists(configVersion, :one)'),
        ExpressionAttributeNames: { '#connection': 'connection' },
        ExpressionAttributeValues: { ':connection': connection, ':tenant': tenantId, ':kind': kind, ':now': options.now, ':one': 1 },
      }),
    );
  }

  async markDisconnected(tenantId: string, kind: IntegrationKind, reason: string, now: string): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: integrationKey(tenantId, kind),
          UpdateExpression: 'SET #connection.disconnected = :disconnected',
          ConditionExpression: 'attribute_exists(#connection)',
          ExpressionAttributeNames: { '#connection': 'connection' },
          ExpressionAttributeValues: { ':disconnected': { at: now, reason } },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  async startRun(run: SyncRun<unknown>, leaseMs: number, now: Date): Promise<StartRunResult> {
    const current = await this.get(run.tenantId, run.kind);
    if (!current) return { started: false, reason: 'missing' };
    const stale = current.activeRunId && (current.activeLeaseExpiresAt ?? 0) < now.getTime() ? current.activeRunId : undefined;
    if (current.activeRunId && !stale) return { started: false, activeRunId: current.activeRunId, reason: 'busy' };
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tableName,
                Key: integrationKey(run.tenantId, run.kind),
                UpdateExpression: 'SET activeRunId = :run, activeLeaseExpiresAt = :until, lastRunId = :run REMOVE activeLeaseId',
                ConditionExpression: stale ? 'activeRunId = :stale AND activeLeaseExpiresAt < :now' : 'attribute_exists(pk) AND attribute_not_exists(activeRunId)',
                ExpressionAttributeValues: { ':run': run.runId, ':until': now.getTime() + leaseMs, ...(stale ? { ':stale': stale, ':now': now.getTime() } : {}) },
              },
            },
            {
              Put: {
                TableName: this.tableName,
                Item: { ...runKey(run.tenantId, run.kind, run.runId), ...run, expiresAt: Math.floor(now.getTime() / 1000) + RUN_RETENTION_SECONDS },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
          ],
        }),
      );
    } catch (error) {
      if (error instanceof TransactionCanceledException || (error as Error).name === 'TransactionCanceledException') {
        const after = await this.get(run.tenantId, run.kind);
        return after ? { started: false, activeRunId: after.activeRunId, reason: 'busy' } : { started: false, reason: 'missing' };
      }
      throw error;
    }
    if (stale) {
      await this.updateRun(run.tenantId, run.kind, stale, 'running', {
        status: 'failed',
        finishedAt: now.toISOString(),
        error: { code: 'run_interrupted', message: 'the run stopped without finishing (its invocations were lost or kept failing); a later run replaced it' },
      });
    }
    return { started: true, ...(stale ? { interrupted: stale } : {}) };
  }

  async claimRun<C = SyncCheckpoint>(tenantId: string, kind: IntegrationKind, runId: string, claim: { leaseId: string; continuing?: string; leaseMs: number; now: Date }): Promise<SyncRun<C> | undefined> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: integrationKey(tenantId, kind),
          UpdateExpression: 'SET activeLeaseId = :lease, activeLeaseExpiresAt = :until',
          ConditionExpression: `activeRunId = :run AND (attribute_not_exists(activeLeaseId) OR activeLeaseExpiresAt < :now${claim.continuing ? ' OR activeLeaseId = :continuing' : ''})`,
          ExpressionAttributeValues: {
            ':run': runId,
            ':lease': claim.leaseId,
            ':until': claim.now.getTime() + claim.leaseMs,
            ':now': claim.now.getTime(),
            ...(claim.continuing ? { ':continuing': claim.continuing } : {}),
          },
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
    const run = await this.getRun<C>(tenantId, kind, runId);
    return run?.status === 'running' ? run : undefined;
  }

  async saveProgress(run: SyncRun<unknown>, leaseId: string, leaseUntil: number): Promise<boolean> {
    return this.transact(run, leaseId, 'SET activeLeaseExpiresAt = :until', { ':until': leaseUntil }, {
      counts: run.counts,
      errors: run.errors,
      errorCount: run.errorCount,
      checkpoint: run.checkpoint,
      invocations: run.invocations,
      exportCounts: run.exportCounts,
      apiCalls: run.apiCalls,
    });
  }

  async finishRun(run: SyncRun<unknown>, leaseId: string | undefined, watermark?: string): Promise<boolean> {
    let moveWatermark = false;
    if (watermark) moveWatermark = (await this.get(run.tenantId, run.kind))?.configVersion === run.configVersion;
    return this.transact(
      run,
      leaseId,
      `REMOVE activeRunId, activeLeaseId, activeLeaseExpiresAt${moveWatermark ? ' SET watermark = :watermark' : ''}`,
      moveWatermark ? { ':watermark': watermark } : {},
      {
        status: run.status,
        finishedAt: run.finishedAt,
        counts: run.counts,
        errors: run.errors,
        errorCount: run.errorCount,
        error: run.error,
        invocations: run.invocations,
        exportCounts: run.exportCounts,
        apiCalls: run.apiCalls,
      },
    );
  }

  async recordFailure(tenantId: string, kind: IntegrationKind, runId: string, leaseId: string): Promise<number | undefined> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: integrationKey(tenantId, kind),
          UpdateExpression: 'SET activeLeaseExpiresAt = :zero',
          ConditionExpression: 'activeRunId = :run AND activeLeaseId = :lease',
          ExpressionAttributeValues: { ':zero': 0, ':run': runId, ':lease': leaseId },
        }),
      );
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: runKey(tenantId, kind, runId),
          UpdateExpression: 'ADD failures :one',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':one': 1 },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      return Attributes?.failures as number | undefined;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  async getRun<C = SyncCheckpoint>(tenantId: string, kind: IntegrationKind, runId: string): Promise<SyncRun<C> | undefined> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: runKey(tenantId, kind, runId), ConsistentRead: true }));
    return Item ? (strip(Item) as unknown as SyncRun<C>) : undefined;
  }

  async listRuns(tenantId: string, kind: IntegrationKind, limit: number, cursor?: string): Promise<{ items: SyncRun[]; nextCursor: string | null }> {
    const pk = runKey(tenantId, kind, '').pk;
    const startKey = decodeCursor(tenantId, cursor, (key) => key.pk === pk && typeof key.sk === 'string');
    const page = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        ScanIndexForward: false,
        Limit: limit,
        ExclusiveStartKey: startKey,
        ConsistentRead: true,
      }),
    );
    return { items: (page.Items ?? []).map((item) => strip(item) as unknown as SyncRun), nextCursor: encodeCursor(tenantId, page.LastEvaluatedKey) };
  }

  /** A change to the run and the lock item together, conditional on the lease (no lease: on the run still running). */
  private async transact(run: SyncRun<unknown>, leaseId: string | undefined, lockUpdate: string, lockValues: Record<string, unknown>, runValues: Record<string, unknown>): Promise<boolean> {
    const set = setExpression(runValues);
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tableName,
                Key: integrationKey(run.tenantId, run.kind),
                UpdateExpression: lockUpdate,
                ConditionExpression: leaseId ? 'activeRunId = :run AND activeLeaseId = :lease' : 'activeRunId = :run',
                ExpressionAttributeValues: { ...lockValues, ':run': run.runId, ...(leaseId ? { ':lease': leaseId } : {}) },
              },
            },
            {
              Update: {
                TableName: this.tableName,
                Key: runKey(run.tenantId, run.kind, run.runId),
                UpdateExpression: set.UpdateExpression,
                ConditionExpression: '#status = :running',
                ExpressionAttributeNames: { ...set.ExpressionAttributeNames, '#status': 'status' },
                ExpressionAttributeValues: { ...set.ExpressionAttributeValues, ':running': 'running' },
              },
            },
          ],
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof TransactionCanceledException || (error as Error).name === 'TransactionCanceledException') return false;
      throw error;
    }
  }

  /** Updates a run record while it still has `status` (used to close a stale run). */
  private async updateRun(tenantId: string, kind: IntegrationKind, runId: string, status: string, values: Record<string, unknown>): Promise<void> {
    const set = setExpression(values);
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: runKey(tenantId, kind, runId),
          UpdateExpression: set.UpdateExpression,
          ConditionExpression: '#status = :status',
          ExpressionAttributeNames: { ...set.ExpressionAttributeNames, '#status': 'status' },
          ExpressionAttributeValues: { ...set.ExpressionAttributeValues, ':status': status },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  /** Marks a run failed that never got going (e.g. its invocation could not be sent); frees the lock. */
  async abandonRun(run: SyncRun<unknown>, error: { code: string; message: string }): Promise<void> {
    await this.finishRun({ ...run, status: 'failed', finishedAt: new Date().toISOString(), error }, undefined);
  }
}

function strip(item: Record<string, unknown>): Record<string, unknown> {
  const { pk: _pk, sk: _sk, expiresAt: _expiresAt, ...rest } = item;
  return rest;
}
