import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchGetAll, batchWriteAll, putRequestJson } from '../../shared/aws/dynamo-batch.js';
import { DynamoJsonTransport, DynamoServiceError } from '../../shared/aws/dynamo-json-transport.js';

/**
 * Faults DynamoDB Local never shows (throttling, partial batches, 5xx, dropped connections),
 * played by a real HTTP server speaking DynamoDB's JSON protocol, against the real transport.
 */
type Handler = (operation: string, body: { RequestItems: Record<string, unknown[] | { Keys: unknown[] }> }, request: IncomingMessage, response: ServerResponse) => void;
let handler: Handler;
const seen: Array<{ operation: string; body: string; authorization: string }> = [];
const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const operation = String(request.headers['x-amz-target']).split('.')[1]!;
    const body = Buffer.concat(chunks).toString();
    seen.push({ operation, body, authorization: String(request.headers.authorization) });
    handler(operation, JSON.parse(body), request, response);
  });
});
const reply = (response: ServerResponse, status: number, payload: unknown) => {
  response.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
  response.end(JSON.stringify(payload));
};
let transport: DynamoJsonTransport;

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret', sessionToken: 'token-1' },
  });
  transport = new DynamoJsonTransport(client, { maxAttempts: 4, timeoutMs: 500 });
});
afterAll(async () => {
  transport.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const items = (count: number) => Array.from({ length: count }, (_, index) => putRequestJson(`{"pk":{"S":"t#U#${index}"},"sk":{"S":"USER"}}`));

describe('DynamoDB batch path under faults', () => {
  it('signs each request for dynamodb in the client’s region, with the session token', async () => {
    seen.length = 0;
    handler = (_operation, _body, _request, response) => reply(response, 200, { UnprocessedItems: {} });
    await batchWriteAll(transport, 'users', items(1));
    expect(seen[0]!.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDTEST\/\d{8}\/eu-west-1\/dynamodb\/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature=[0-9a-f]{64}$/);
  });

  it('splits into 25-item requests and retries UnprocessedItems until every item is written', async () => {
    seen.length = 0;
    const written = new Set<string>();
    let partial = 0;
    handler = (_operation, body, _request, response) => {
      const requests = body.RequestItems.users as Array<{ PutRequest: { Item: { pk: { S: string } } } }>;
      // Every first attempt of a request leaves its last 5 items unprocessed.
      const keep = requests.length > 5 && partial++ < 4 ? requests.slice(0, -5) : requests;
      for (const request of keep) written.add(request.PutRequest.Item.pk.S);
      reply(response, 200, { UnprocessedItems: keep.length < requests.length ? { users: requests.slice(keep.length) } : {} });
    };
    await batchWriteAll(transport, 'users', items(100));
    expect(written.size).toBe(100);
    expect(seen.filter((request) => request.operation === 'BatchWriteItem').every((request) => (JSON.parse(request.body).RequestItems.users as unknown[]).length <= 25)).toBe(true);
    expect(seen.length).toBe(8);
  });

  it('retries throttling and 5xx answers with backoff, then succeeds', async () => {
    const answers = [
      [400, { __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException', message: 'slow down' }],
      [400, { __type: 'com.amazon.coral.availability#ThrottlingException', message: 'throttled' }],
      [500, { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: 'oops' }],
      [200, { Responses: { users: [{ pk: { S: 't#U#1' } }] }, UnprocessedKeys: {} }],
    ] as const;
    let call = 0;
    handler = (_operation, _body, _request, response) => {
      const [status, payload] = answers[call++]!;
      reply(response, status, payload);
    };
    await expect(batchGetAll(transport, 'users', [{ pk: { S: 't#U#1' } }])).resolves.toEqual([{ pk: { S: 't#U#1' } }]);
    expect(call).toBe(4);
  });

  it('retries a dropped connection', async () => {
    let call = 0;
    handler = (_operation, _body, request, response) => {
      if (call++ === 0) request.socket.destroy();
      else reply(response, 200, { UnprocessedItems: {} });
    };
    await batchWriteAll(transport, 'users', items(3));
    expect(call).toBe(2);
  });

  it('gives up after maxAttempts of throttling with the service’s own error', async () => {
    let call = 0;
    handler = (_operation, _body, _request, response) => {
      call += 1;
      reply(response, 400, { __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException', message: 'slow down' });
    };
    const failure = batchWriteAll(transport, 'users', items(1));
    await expect(failure).rejects.toBeInstanceOf(DynamoServiceError);
    await expect(failure).rejects.toThrow(/ProvisionedThroughputExceededException: slow down/);
    expect(call).toBe(4);
  });

  it('does not retry a validation error', async () => {
    let call = 0;
    handler = (_operation, _body, _request, response) => {
      call += 1;
      reply(response, 400, { __type: 'com.amazon.coral.validate#ValidationException', message: 'Item size has exceeded the maximum allowed size' });
    };
    await expect(batchWriteAll(transport, 'users', items(1))).rejects.toThrow(/ValidationException: Item size/);
    expect(call).toBe(1);
  });

  it('times out a request that never answers and retries it', async () => {
    let call = 0;
    handler = (_operation, _body, _request, response) => {
      if (call++ === 0) return; // never answers: the 500 ms timeout fires
      reply(response, 200, { UnprocessedItems: {} });
    };
    await batchWriteAll(transport, 'users', items(1));
    expect(call).toBe(2);
  });
});
