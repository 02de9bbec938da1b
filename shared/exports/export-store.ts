import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure, setExpression } from '../aws/conditional-writes.js';
import type { ExportCheckpoint, ExportRecord } from './export-record.js';

/**
 * Export jobs in the control table: pk = `TENANT#<tenantId>#EXPORTS`, sk = exportId. The
 * export function holds a lease while it runs; every change it makes is conditional on that
 * lease, so a duplicate or stale invocation never writes over a live run.
 */
const exportItemKey = (tenantId: string, exportId: string) => ({ pk: `TENANT#${tenantId}#EXPORTS`, sk: exportId });

/** The port to export records; `DynamoExportStore` implements it. */
export interface ExportStore {
  create(record: ExportRecord): Promise<void>;
  get(tenantId: string, exportId: string): Promise<ExportRecord | undefined>;
  /**
   * Takes the lease of a `processing` export whose lease has lapsed, or whose lease is
   * `continuing` (the invocation that saved it handed over). Undefined when another run
   * holds it or it has finished.
   */
  claim(tenantId: string, exportId: string, claim: { leaseId: string; continuing?: string; leaseMs: number; now: Date }): Promise<ExportRecord | undefined>;
  saveCheckpoint(tenantId: string, exportId: string, leaseId: string, checkpoint: ExportCheckpoint, leaseUntil: number): Promise<boolean>;
  finish(tenantId: string, exportId: string, leaseId: string | undefined, result: { status: 'completed' | 'failed'; rows?: number; error?: { code: string; message: string } }): Promise<boolean>;
  /** Counts a failed attempt and lets the lease lapse so Lambda's retry can resume at once. */
  recordFailure(tenantId: string, exportId: string, leaseId: string): Promise<number | undefined>;
}

export class DynamoExportStore implements ExportStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async create(record: ExportRecord): Promise<void> {
    await this.client.send(
      new PutCommand({ TableName: this.tableName, Item: { ...exportItemKey(record.tenantId, record.exportId), ...record }, ConditionExpression: 'attribute_not_exists(pk)' }),
    );
  }

  async get(tenantId: string, exportId: string): Promise<ExportRecord | undefined> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: exportItemKey(tenantId, exportId), ConsistentRead: true }));
    return Item ? strip(Item) : undefined;
  }

  async claim(tenantId: string, exportId: string, claim: { leaseId: string; continuing?: string; leaseMs: number; now: Date }): Promise<ExportRecord | undefined> {
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: exportItemKey(tenantId, exportId),
          UpdateExpression: 'SET leaseId = :lease, leaseExpiresAt = :until, startedAt = if_not_exists(startedAt, :now)',
          ConditionExpression: `attribute_exists(pk) AND #status = :processing AND (leaseExpiresAt < :nowMs${claim.continuing ? ' OR leaseId = :continuing' : ''})`,
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':processing': 'processing',
            ':lease': claim.leaseId,
            ':until': claim.now.getTime() + claim.leaseMs,
            ':nowMs': claim.now.getTime(),
            ':now': claim.now.toISOString(),
            ...(claim.continuing ? { ':continuing': claim.continuing } : {}),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Attributes ? strip(Attributes) : undefined;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  saveCheckpoint(tenantId: string, exportId: string, leaseId: string, checkpoint: ExportCheckpoint, leaseUntil: number): Promise<boolean> {
    return this.update(tenantId, exportId, leaseId, { checkpoint, rows: checkpoint.rows, leaseExpiresAt: leaseUntil });
  }

  finish(tenantId: string, exportId: string, leaseId: string | undefined, result: { status: 'completed' | 'failed'; rows?: number; error?: { code: string; message: string } }): Promise<boolean> {
    return this.update(tenantId, exportId, leaseId, { ...result, finishedAt: new Date().toISOString(), leaseExpiresAt: 0 });
  }

  async recordFailure(tenantId: string, exportId: string, leaseId: string): Promise<number | undefined> {
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: exportItemKey(tenantId, exportId),
          UpdateExpression: 'SET leaseExpiresAt = :zero ADD failures :one',
          ConditionExpression: 'leaseId = :lease',
          ExpressionAttributeValues: { ':zero': 0, ':one': 1, ':lease': leaseId },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      return Attributes?.failures as number | undefined;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  /** Sets the values if the lease is still ours (no lease: only while the job is processing). */
  private async update(tenantId: string, exportId: string, leaseId: string | undefined, values: Record<string, unknown>): Promise<boolean> {
    const set = setExpression(values);
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: exportItemKey(tenantId, exportId),
          UpdateExpression: set.UpdateExpression,
          ConditionExpression: leaseId ? 'leaseId = :lease' : 'attribute_exists(pk) AND #status = :processing',
          ExpressionAttributeNames: { ...set.ExpressionAttributeNames, ...(leaseId ? {} : { '#status': 'status' }) },
          ExpressionAttributeValues: { ...set.ExpressionAttributeValues, ...(leaseId ? { ':lease': leaseId } : { ':processing': 'processing' }) },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }
}

function strip(item: Record<string, unknown>): ExportRecord {
  const { pk: _pk, sk: _sk, ...record } = item;
  return record as unknown as ExportRecord;
}
