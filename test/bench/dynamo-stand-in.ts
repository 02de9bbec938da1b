import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A DynamoDB stand-in for the one-core benchmark: a small HTTP server speaking DynamoDB's
 * JSON protocol (`X-Amz-Target: DynamoDB_20120810.<Operation>`) that answers every request
 * after a fixed delay, like a remote DynamoDB does. It keeps items in memory (so a re-import
 * finds its users and writes nothing) unless `store` is false (the 1 GB memory run, where only
 * the importer's memory is of interest). It counts requests and items so the bench can check
 * the importer really did its writes.
 */
type AttributeMap = Record<string, Record<string, unknown>>;

export interface StandIn {
  endpoint: string;
  stats: { requests: Record<string, number>; itemsWritten: number; keysRead: number };
  close(): Promise<void>;
}

const keyOf = (table: string, item: AttributeMap) => `${table}\u0000${JSON.stringify(item.pk)}\u0000${JSON.stringify(item.sk)}`;

export async function startDynamoStandIn(options: { delayMs?: number; store?: boolean } = {}): Promise<StandIn> {
  const delayMs = options.delayMs ?? 10;
  const store = options.store ?? true;
  const items = new Map<string, string>();
  const stats: StandIn['stats'] = { requests: {}, itemsWritten: 0, keysRead: 0 };

  const answer = (operation: string, body: Record<string, unknown>): unknown => {
    stats.requests[operation] = (stats.requests[operation] ?? 0) + 1;
    switch (operation) {
      case 'BatchWriteItem': {
        const requests = body.RequestItems as Record<string, Array<{ PutRequest?: { Item: AttributeMap }; DeleteRequest?: { Key: AttributeMap } }>>;
        for (const [table, writes] of Object.entries(requests)) {
          for (const write of writes) {
            stats.itemsWritten += 1;
            if (!store) continue;
            if (write.PutRequest) items.set(keyOf(table, write.PutRequest.Item), JSON.stringify(write.PutRequest.Item));
            if (write.DeleteRequest) items.delete(keyOf(table, write.DeleteRequest.Key));
          }
        }
        return { UnprocessedItems: {} };
      }
      case 'BatchGetItem': {
        const requests = body.RequestItems as Record<string, { Keys: AttributeMap[] }>;
        const responses: Record<string, unknown[]> = {};
        for (const [table, { Keys }] of Object.entries(requests)) {
          stats.keysRead += Keys.length;
          responses[table] = Keys.map((key) => items.get(keyOf(table, key))).filter((found) => found !== undefined).map((found) => JSON.parse(found) as unknown);
        }
        return { Responses: responses, UnprocessedKeys: {} };
      }
      default:
        throw new Error(`the stand-in does not implement ${operation}`);
    }
  };

  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const operation = String(request.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
      let status = 200;
      let payload: unknown;
      try {
        payload = answer(operation, JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
      } catch (error) {
        status = 400;
        payload = { __type: 'com.amazon.coral.validate#ValidationException', message: (error as Error).message };
      }
      const text = JSON.stringify(payload);
      setTimeout(() => {
        response.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(text) });
        response.end(text);
      }, delayMs);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
