import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { handler } from '../../functions/api/handler.js';
import { lambdaContext } from '../../infra/local/lambda-context.js';
import { dynamoDocumentClient } from '../../shared/aws/clients.js';
import { DynamoServiceError } from '../../shared/aws/dynamo-json-transport.js';
import { logger } from '../../shared/logging/logger.js';
import { DynamoPropertyStore, propertyPartition } from '../../shared/properties/dynamo-property-store.js';
import { apiEvent, jsonBody } from '../support/api-events.js';
import { testTables } from '../support/test-resources.js';

const call = async (event: ReturnType<typeof apiEvent>) => {
  const result = await handler(event, lambdaContext('roster-api'));
  return { status: result.statusCode, headers: result.headers ?? {}, body: jsonBody(result) };
};

async function registerProperty(tenantId: string, name: string) {
  await dynamoDocumentClient().send(
    new PutCommand({
      TableName: testTables.CONTROL_TABLE,
      Item: { pk: propertyPartition(tenantId), sk: name, name, type: 'string', source: 'api', createdAt: '2026-01-01T00:00:00.000Z' },
    }),
  );
}

afterEach(() => vi.restoreAllMocks());

describe('HTTP API foundation', () => {
  it('GET /health answers 200 {"status":"ok"} without a key', async () => {
    const response = await call(apiEvent({ method: 'GET', path: '/health' }));
    expect(response).toMatchObject({ status: 200, body: { status: 'ok' } });
  });

  it('GET /openapi.json serves the generated document', async () => {
    const response = await call(apiEvent({ method: 'GET', path: '/openapi.json' }));
    expect(response.status).toBe(200);
    expect(response.body.openapi).toBe('3.1.0');
    expect(Object.keys(response.body.paths)).toEqual(expect.arrayContaining(['/health', '/properties']));
  });

  it('adds CORS headers for a browser origin', async () => {
    const response = await call(apiEvent({ method: 'GET', path: '/health', headers: { origin: 'https://admin.example.com' } }));
    expect(response.headers['Access-Control-Allow-Origin'] ?? response.headers['access-control-allow-origin']).toBe('*');
  });

  it('answers an unknown route with 404 in the error format', async () => {
    const response = await call(apiEvent({ method: 'GET', path: '/nope' }));
    expect(response.status).toBe(404);
    expect(response.body).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
  });

  it('refuses an authenticated route that reaches it without a tenant context (401), saying why', async () => {
    const response = await call(apiEvent({ method: 'GET', path: '/properties' }));
    expect(response).toMatchObject({ status: 401, body: { error: { code: 'unauthorized', message: expect.stringMatching(/API key is required/) } } });
    const invalid = apiEvent({ method: 'GET', path: '/properties' });
    (invalid.requestContext as any).authorizer = { lambda: { tenantId: '', keyId: '', refusal: 'invalid' } };
    expect(await call(invalid)).toMatchObject({ status: 401, body: { error: { code: 'unauthorized', message: expect.stringMatching(/not valid/) } } });
  });

  it('lists only the calling tenant\'s properties, paged by a cursor bound to that tenant', async () => {
    await registerProperty('props-a', 'plan');
    await registerProperty('props-a', 'tier');
    await registerProperty('props-a', 'zone');
    await registerProperty('props-b', 'secret_b');
    const first = await call(apiEvent({ method: 'GET', path: '/properties', tenantId: 'props-a', query: { limit: '2' } }));
    expect(first.status).toBe(200);
    expect(first.body.items.map((p: { name: string }) => p.name)).toEqual(['plan', 'tier']);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await call(apiEvent({ method: 'GET', path: '/properties', tenantId: 'props-a', query: { cursor: first.body.nextCursor } }));
    expect(second.body).toEqual({ items: [expect.objectContaining({ name: 'zone', type: 'string' })], nextCursor: null });
    const other = await call(apiEvent({ method: 'GET', path: '/properties', tenantId: 'props-b', query: { cursor: first.body.nextCursor } }));
    expect(other).toMatchObject({ status: 400, body: { error: { code: 'validation_error', details: [{ field: 'query.cursor' }] } } });
  });

  it('names the bad fields in a 400', async () => {
    const response = await call(apiEvent({ method: 'GET', path: '/properties', tenantId: 'props-a', query: { limit: '5000' } }));
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('validation_error');
    expect(response.body.error.details).toEqual([{ field: 'query.limit', message: expect.stringMatching(/1000/) }]);
  });

  it('refuses a body on a route that takes none, and malformed JSON, with 400', async () => {
    const withBody = await call(apiEvent({ method: 'GET', path: '/properties', tenantId: 'props-a', body: '{"x":' }));
    expect(withBody).toMatchObject({ status: 400, body: { error: { details: [{ field: 'body' }] } } });
  });

  it('never puts internal messages or stack traces in a 500 body', async () => {
    vi.spyOn(DynamoPropertyStore.prototype, 'list').mockRejectedValue(new Error('connection string postgres://admin:hunter2@db'));
    const errors = vi.spyOn(logger, 'error').mockImplementation(() => undefined);
    const response = await call(apiEvent({ method: 'GET', path: '/properties', tenantId: 'props-a' }));
    expect(response).toEqual({ status: 500, headers: expect.any(Object), body: { error: { code: 'internal_error', message: 'internal error' } } });
    expect(JSON.stringify(response.body)).not.toMatch(/hunter2|at .*\.ts/);
    expect(errors).toHaveBeenCalledOnce();
  });

  it('keeps an AWS service error private even when its status is 4xx (500 internal_error, the cause only in the log)', async () => {
    const serviceError = new DynamoServiceError('ValidationException', 'Provided list of item keys contains duplicates (table roster-users)', 400, false);
    vi.spyOn(DynamoPropertyStore.prototype, 'list').mockRejectedValue(serviceError);
    const errors = vi.spyOn(logger, 'error').mockImplementation(() => undefined);
    const response = await call(apiEvent({ method: 'GET', path: '/properties', tenantId: 'props-a' }));
    expect(response).toMatchObject({ status: 500, body: { error: { code: 'internal_error', message: 'internal error' } } });
    expect(errors).toHaveBeenCalledOnce();
  });

  it('takes POST /imports without a body as an upload with every option at its default (201)', async () => {
    const response = await call(apiEvent({ method: 'POST', path: '/imports', tenantId: 'props-a' }));
    expect(response).toMatchObject({ status: 201, body: { status: 'waiting_upload', uploadMethod: 'PUT' } });
  });

  it('writes JSON log lines that carry the request ID and the tenant ID', async () => {
    vi.spyOn(DynamoPropertyStore.prototype, 'list').mockRejectedValue(new Error('boom'));
    const lines: string[] = [];
    const capture = (chunk: string | Uint8Array) => {
      lines.push(chunk.toString());
      return true;
    };
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
    const context = lambdaContext('roster-api');
    await handler(apiEvent({ method: 'GET', path: '/properties', tenantId: 'props-log' }), context);
    out.mockRestore();
    err.mockRestore();
    const entries = lines.flatMap((line) => line.split('\n')).filter(Boolean).map((line) => JSON.parse(line));
    const failure = entries.find((entry) => entry.message === 'request failed');
    expect(failure).toMatchObject({ level: 'ERROR', tenantId: 'props-log', function_request_id: context.awsRequestId });
  });
});
