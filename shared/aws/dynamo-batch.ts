import type { AttributeMap } from './attribute-value-codec.js';
import type { DynamoJsonTransport } from './dynamo-json-transport.js';
import { backoffDelayMs, createLimiter, sleep, type Limiter } from '../concurrency/limiter.js';

/**
 * Batched reads and writes with DynamoDB's limits (100 keys per BatchGetItem, 25 items per
 * BatchWriteItem), bounded concurrency, and retries of `UnprocessedKeys` / `UnprocessedItems`
 * with full-jitter backoff. (Throttling errors of a whole request are retried by the
 * transport itself, see dynamo-json-transport.ts.) Items and keys are in DynamoDB's
 * attribute-value form (attribute-value-codec.ts).
 */
type Key = AttributeMap;
type Item = AttributeMap;

interface ConsumedCapacity {
  CapacityUnits?: number;
}
export type WriteRequest = { PutRequest: { Item: Item } } | { DeleteRequest: { Key: Key } };

/** A write request already encoded as JSON text (see `putRequestJson`). */
export type EncodedWriteRequest = string;

export const putRequestJson = (itemJson: string): EncodedWriteRequest => `{"PutRequest":{"Item":${itemJson}}}`;
export const deleteRequestJson = (keyJson: string): EncodedWriteRequest => `{"DeleteRequest":{"Key":${keyJson}}}`;

const MAX_ATTEMPTS = 10;

export class UnprocessedWritesError extends Error {
  override readonly name = 'UnprocessedWritesError';
}

export interface BatchOptions {
  limiter?: Limiter;
  /** Called with the ConsumedCapacity of each request (benchmarks and cost reports). */
  onCapacity?: (units: number, kind: 'read' | 'write') => void;
}

const chunk = <T>(items: T[], size: number): T[][] => {
  const chunks: T[][] = [];
  for (let start = 0; start < items.length; start += size) chunks.push(items.slice(start, start + size));
  return chunks;
};

export async function batchGetAll(
  transport: DynamoJsonTransport,
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
          const answer = await transport.send<{
            Responses?: Record<string, Item[]>;
            UnprocessedKeys?: Record<string, { Keys?: Key[] }>;
            ConsumedCapacity?: ConsumedCapacity[];
          }>('BatchGetItem', {
            RequestItems: { [tableName]: { Keys: pending, ConsistentRead: options.consistentRead ?? false } },
            ReturnConsumedCapacity: options.onCapacity ? 'TOTAL' : undefined,
          });
          for (const used of answer.ConsumedCapacity ?? []) options.onCapacity?.(used.CapacityUnits ?? 0, 'read');
          found.push(...(answer.Responses?.[tableName] ?? []));
          pending = answer.UnprocessedKeys?.[tableName]?.Keys ?? [];
        }
        return found;
      }),
    ),
  );
  return results.flat();
}

export async function batchWriteAll(
  transport: DynamoJsonTransport,
  tableName: string,
  requests: EncodedWriteRequest[],
  options: BatchOptions = {},
): Promise<void> {
  if (requests.length === 0) return;
  const limiter = options.limiter ?? createLimiter(8);
  await Promise.all(
    chunk(requests, 25).map((part) =>
      limiter(async () => {
        let pending: EncodedWriteRequest[] = part;
        for (let attempt = 0; pending.length > 0; attempt += 1) {
          if (attempt >= MAX_ATTEMPTS) {
            throw new UnprocessedWritesError(`BatchWriteItem on ${tableName}: ${pending.length} items unprocessed after ${MAX_ATTEMPTS} attempts`);
          }
          if (attempt > 0) await sleep(backoffDelayMs(attempt));
          const body = `{"RequestItems":{${JSON.stringify(tableName)}:[${pending.join(',')}]}${options.onCapacity ? ',"ReturnConsumedCapacity":"TOTAL"' : ''}}`;
          const answer = await transport.send<{ UnprocessedItems?: Record<string, WriteRequest[]>; ConsumedCapacity?: ConsumedCapacity[] }>('BatchWriteItem', body);
          for (const used of answer.ConsumedCapacity ?? []) options.onCapacity?.(used.CapacityUnits ?? 0, 'write');
          pending = (answer.UnprocessedItems?.[tableName] ?? []).map((request) => JSON.stringify(request));
        }
      }),
    ),
  );
}
