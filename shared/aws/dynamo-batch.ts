import { BatchGetCommand, BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { backoffDelayMs, createLimiter, sleep, type Limiter } from '../concurrency/limiter.js';

/**
 * Batched reads and writes with DynamoDB's limits (100 keys per BatchGetItem, 25 items per
 * BatchWriteItem), bounded concurrency, and retries of `UnprocessedKeys` / `UnprocessedItems`
 * with full-jitter backoff. (Throttling errors of a whole request are retried by the SDK
 * client itself, configured with `maxAttempts` in shared/aws/clients.ts.)
 */
type Key = Record<string, unknown>;
type Item = Record<string, unknown>;
export type WriteRequest = { PutRequest: { Item: Item } } | { DeleteRequest: { Key: Key } };

const MAX_ATTEMPTS = 10;

export class UnprocessedWritesError extends Error {
  override readonly name = 'UnprocessedWritesError';
}

export interface BatchOptions {
  limiter?: Limiter;
  /** Called with the ConsumedCapacity of each request (benchmarks and cost reports). */
  onCapacity?: (units: number) => void;
}

const chunk = <T>(items: T[], size: number): T[][] => {
  const chunks: T[][] = [];
  for (let start = 0; start < items.length; start += size) chunks.push(items.slice(start, start + size));
  return chunks;
};

export async function batchGetAll(
  client: DynamoDBDocumentClient,
  tableName: string,
  keys: Key[],
  options: BatchOptions & { consistentRead?: boolean } = {},
): Promise<Item[]> {
  if (keys.length === 0) return [];
  const limiter = options.limiter ?? createLimiter(8);
  const results = await Promise.all(
    chunk(keys, 100).map((part) =>
      limiter(async () => {
        const found: Item[] = [];
        let pending: Key[] = part;
        for (let attempt = 0; pending.length > 0; attempt += 1) {
          if (attempt >= MAX_ATTEMPTS) throw new Error(`BatchGetItem on ${tableName}: keys still unprocessed after ${MAX_ATTEMPTS} attempts`);
          if (attempt > 0) await sleep(backoffDelayMs(attempt));
          const answer = await client.send(
            new BatchGetCommand({
              RequestItems: { [tableName]: { Keys: pending, ConsistentRead: options.consistentRead ?? false } },
              ReturnConsumedCapacity: options.onCapacity ? 'TOTAL' : undefined,
            }),
          );
          for (const used of answer.ConsumedCapacity ?? []) options.onCapacity?.(used.CapacityUnits ?? 0);
          found.push(...(answer.Responses?.[tableName] ?? []));
          pending = (answer.UnprocessedKeys?.[tableName]?.Keys as Key[] | undefined) ?? [];
        }
        return found;
      }),
    ),
  );
  return results.flat();
}

export async function batchWriteAll(
  client: DynamoDBDocumentClient,
  tableName: string,
  requests: WriteRequest[],
  options: BatchOptions = {},
): Promise<void> {
  if (requests.length === 0) return;
  const limiter = options.limiter ?? createLimiter(8);
  await Promise.all(
    chunk(requests, 25).map((part) =>
      limiter(async () => {
        let pending: WriteRequest[] = part;
        for (let attempt = 0; pending.length > 0; attempt += 1) {
          if (attempt >= MAX_ATTEMPTS) {
            throw new UnprocessedWritesError(`BatchWriteItem on ${tableName}: ${pending.length} items unprocessed after ${MAX_ATTEMPTS} attempts`);
          }
          if (attempt > 0) await sleep(backoffDelayMs(attempt));
          const answer = await client.send(
            new BatchWriteCommand({
              RequestItems: { [tableName]: pending },
              ReturnConsumedCapacity: options.onCapacity ? 'TOTAL' : undefined,
            }),
          );
          for (const used of answer.ConsumedCapacity ?? []) options.onCapacity?.(used.CapacityUnits ?? 0);
          pending = (answer.UnprocessedItems?.[tableName] as WriteRequest[] | undefined) ?? [];
        }
      }),
    ),
  );
}
