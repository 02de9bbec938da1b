import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { setExpression } from '../aws/conditional-writes.js';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { decodeCursor, encodeCursor } from '../pagination/cursor.js';
import type { ImportCheckpoint, ImportCounts, ImportRecord, ImportStatus, RowError } from './import-record.js';

/**
 * Import records in the control table: pk = `TENANT#<tenantId>#IMPORTS`, sk = importId
 * (time-ordered, so a reverse query lists newest first). Every change made by the importer
 * is conditional on the lease it holds, so a duplicate S3 event or a stale invocation can
 * never write over a live run.
 */
const importKey = (tenantId: string, importId: string) => ({ pk: `TENANT#${tenantId}#IMPORTS`, sk: importId });

export interface ImportProgress {
  counts: ImportCounts;
  errors: RowError[];
  errorCount: number;
  duplicateRows: number;
  checkpoint: ImportCheckpoint;
  encoding?: string;
  delimiter?: string;
}

/** The port to import records; `DynamoImportStore` implements it. */
export interface ImportStore {
  create(record: ImportRecord): Promise<void>;
  get(tenantId: string, importId: string): Promise<ImportRecord | undefined>;
  list(tenantId: string, limit: number, cursor?: string): Promise<{ items: ImportRecord[]; nextCursor: string | null }>;
  claim(tenantId: string, importId: string, claim: { leaseId: string; leaseMs: number; sequencer: string; now: Date }): Promise<ImportRecord | undefined>;
  saveProgress(tenantId: string, importId: string, leaseId: string, progress: ImportProgress, leaseUntil: number): Promise<boolean>;
  finish(
    tenantId: string,
    importId: string,
    leaseId: string,
    result: { status: ImportStatus; finishedAt: string; error?: { code: string; message: string }; hasErrorReport?: boolean } & Partial<ImportProgress>,
  ): Promise<boolean>;
  /** Records that an attempt of `event` failed (`earlier` failed attempts of it before) and lets the lease lapse; the new count, or undefined when the lease is no longer ours. */
  recordFailure(tenantId: string, importId: string, leaseId: string, event: string, earlier: number): Promise<number | undefined>;
}

export class DynamoImportStore implements ImportStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async create(record: ImportRecord): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...importKey(record.tenantId, record.importId), ...record },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async get(tenantId: string, importId: string): Promise<ImportRecord | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: importKey(tenantId, importId), ConsistentRead: true }),
    );
    return Item ? strip(Item) : undefined;
  }

  async list(tenantId: string, limit: number, cursor?: string): Promise<{ items: ImportRecord[]; nextCursor: string | null }> {
    const pk = importKey(tenantId, '').pk;
    const page = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        ScanIndexForward: false,
        Limit: limit,
        ExclusiveStartKey: decodeCursor(tenantId, cursor, (key) => key.pk === pk),
      }),
    );
    return { items: (page.Items ?? []).map(strip), nextCursor: encodeCursor(tenantId, page.LastEvaluatedKey) };
  }

  /**
   * Claims the import for one run: from `waiting_upload`, or from `processing` when the
   * previous lease has expired (a crashed invocation that Lambda retries). Returns the
   * claimed record, or undefined when another run holds it or it has finished.
   */
  async claim(tenantId: string, importId: string, claim: { leaseId: string; leaseMs: number; sequencer: string; now: Date }): Promise<ImportRecord | undefined> {
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: importKey(tenantId, importId),
          UpdateExpression:
            'SET #status = :processing, leaseId = :lease, leaseExpiresAt = :until, objectSequencer = :seq, startedAt = if_not_exists(startedAt, :now)',
          // waiting_upload: a presigned upload arrived. processing without a live lease: pasted
          // CSV (no sequencer yet), or a retry of this same object after a crash.
          ConditionExpression:
            'attribute_exists(pk) AND (#status = :waiting OR (#status = :processing AND leaseExpiresAt < :nowMs AND ' +
            '(attribute_not_exists(objectSequencer) OR objectSequencer = :seq)))',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':processing': 'processing',
            ':waiting': 'waiting_upload',
            ':lease': claim.leaseId,
            ':until': claim.now.getTime() + claim.leaseMs,
            ':nowMs': claim.now.getTime(),
            ':seq': claim.sequencer,
            ':now': claim.now.toISOString(),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Attributes ? strip(Attributes) : undefined;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  /** Saves progress and extends the lease; false when the lease was lost. */
  async saveProgress(tenantId: string, importId: string, leaseId: string, progress: ImportProgress, leaseUntil: number): Promise<boolean> {
    return this.conditionalUpdate(tenantId, importId, leaseId, {
      counts: progress.counts,
      errors: progress.errors,
      errorCount: progress.errorCount,
      duplicateRows: progress.duplicateRows,
      checkpoint: progress.checkpoint,
      leaseExpiresAt: leaseUntil,
      ...(progress.encoding ? { encoding: progress.encoding } : {}),
      ...(progress.delimiter ? { delimiter: progress.delimiter } : {}),
    });
  }

  async finish(
    tenantId: string,
    importId: string,
    leaseId: string,
    result: { status: ImportStatus; finishedAt: string; error?: { code: string; message: string }; hasErrorReport?: boolean } & Partial<ImportProgress>,
  ): Promise<boolean> {
    return this.conditionalUpdate(tenantId, importId, leaseId, { ...result, leaseExpiresAt: 0 });
  }

  /** Lets the lease lapse now (progress unchanged), so Lambda's retry can claim the import at once. */
  async recordFailure(tenantId: string, importId: string, leaseId: string, event: string, earlier: number): Promise<number | undefined> {
    const failures = earlier + 1;
    return (await this.conditionalUpdate(tenantId, importId, leaseId, { leaseExpiresAt: 0, failures, failedEvent: event })) ? failures : undefined;
  }


  private async conditionalUpdate(tenantId: string, importId: string, leaseId: string, values: Record<string, unknown>): Promise<boolean> {
    const set = setExpression(values);
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: importKey(tenantId, importId),
          UpdateExpression: set.UpdateExpression,
          ConditionExpression: 'leaseId = :lease',
          ExpressionAttributeNames: set.ExpressionAttributeNames,
          ExpressionAttributeValues: { ...set.ExpressionAttributeValues, ':lease': leaseId },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}

function strip(item: Record<string, unknown>): ImportRecord {
  const { pk: _pk, sk: _sk, ...record } = item;
  return record as unknown as ImportRecord;
}
