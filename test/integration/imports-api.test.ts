import { describe, expect, it } from 'vitest';
import { handler } from '../../functions/api/handler.js';
import { lambdaContext } from '../../infra/local/lambda-context.js';
import { uploadKey } from '../../shared/imports/upload-key.js';
import { apiEvent, jsonBody } from '../support/api-events.js';
import { blobs, uniqueTenant } from '../support/import-harness.js';

const call = async (event: ReturnType<typeof apiEvent>) => {
  const result = await handler(event, lambdaContext('roster-api'));
  return { status: result.statusCode, body: jsonBody(result) };
};

describe('imports and properties routes', () => {
  it('POST /imports answers a presigned PUT URL for uploads/<tenant>/<importId>.csv that accepts the file', async () => {
    const tenant = uniqueTenant();
    const created = await call(apiEvent({ method: 'POST', path: '/imports', tenantId: tenant, body: { filename: 'list.csv' } }));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      importId: expect.stringMatching(/^imp_/),
      status: 'waiting_upload',
      uploadMethod: 'PUT',
      uploadHeaders: { 'content-type': 'text/csv' },
      maxBytes: 5 * 1024 ** 3,
    });
    expect(Date.parse(created.body.expiresAt)).toBeGreaterThan(Date.now());
    const url = new URL(created.body.uploadUrl);
    expect(decodeURIComponent(url.pathname)).toContain(uploadKey(tenant, created.body.importId));
    expect(url.searchParams.get('X-Amz-Expires')).toBe('900');
    // A checksum signed at presign time is that of an empty body: real S3 would refuse every real file.
    expect([...url.searchParams.keys()].filter((name) => /checksum/i.test(name))).toEqual([]);
    const put = await fetch(created.body.uploadUrl, { method: 'PUT', headers: created.body.uploadHeaders, body: 'email\nput@example.com\n' });
    expect(put.status).toBe(200);
    expect(await blobs.size(uploadKey(tenant, created.body.importId))).toBe(22);
  });

  it('signs the URL for exactly sizeBytes, and refuses sizes above the limit with 413', async () => {
    const tenant = uniqueTenant();
    const sized = await call(apiEvent({ method: 'POST', path: '/imports', tenantId: tenant, body: { sizeBytes: 1234 } }));
    expect(sized.status).toBe(201);
    expect(sized.body.maxBytes).toBe(1234);
    expect(new URL(sized.body.uploadUrl).searchParams.get('X-Amz-SignedHeaders')).toContain('content-length');
    expect([...new URL(sized.body.uploadUrl).searchParams.keys()].filter((name) => /checksum/i.test(name))).toEqual([]);
    const tooBig = await call(apiEvent({ method: 'POST', path: '/imports', tenantId: tenant, body: { sizeBytes: 6 * 1024 ** 3 } }));
    expect(tooBig).toMatchObject({ status: 413, body: { error: { code: 'payload_too_large' } } });
  });

  it('takes pasted CSV (202) up to 1 MB and answers 413 above', async () => {
    const tenant = uniqueTenant();
    const pasted = await call(apiEvent({ method: 'POST', path: '/imports', tenantId: tenant, body: { csv: 'email\na@example.com\n' } }));
    expect(pasted).toMatchObject({ status: 202, body: { importId: expect.any(String), status: 'processing' } });
    expect(await blobs.size(uploadKey(tenant, pasted.body.importId))).toBeGreaterThan(0);
    const big = await call(apiEvent({ method: 'POST', path: '/imports', tenantId: tenant, body: { csv: 'x'.repeat(1024 * 1024 + 1) } }));
    expect(big.status).toBe(413);
    // Just under 1 MB of accented text, sent by a client that escapes every non-ASCII character (`\u00e9`): a 3 MB body.
    const escaped = `{"csv":"email,name\\na@example.com,${'\\u00e9'.repeat(520_000)}\\n"}`;
    expect(escaped.length).toBeGreaterThan(3_000_000);
    const accented = await call(apiEvent({ method: 'POST', path: '/imports', tenantId: tenant, body: escaped }));
    expect(accented).toMatchObject({ status: 202, body: { status: 'processing' } });
  });

  it('names bad fields: unknown encoding, bad mapping property, unknown option', async () => {
    const response = await call(
      apiEvent({ method: 'POST', path: '/imports', tenantId: uniqueTenant(), body: { encoding: 'ebcdic', mapping: { Plan: 'Bad Name' }, extra: 1 } }),
    );
    expect(response.status).toBe(400);
    const fields = response.body.error.details.map((detail: { field: string }) => detail.field);
    expect(fields).toEqual(expect.arrayContaining(['body.encoding', 'body.mapping.Plan', 'body']));
    const twoIntoOne = await call(apiEvent({ method: 'POST', path: '/imports', tenantId: uniqueTenant(), body: { mapping: { Plan: 'tier', Level: 'tier' } } }));
    expect(twoIntoOne).toMatchObject({ status: 400, body: { error: { details: [{ field: 'body.mapping.Level', message: expect.stringMatching(/both map to the property "tier"/) }] } } });
  });

  it('GET /imports lists newest first; GET /imports/{id} is 404 for another tenant', async () => {
    const tenant = uniqueTenant();
    const first = await call(apiEvent({ method: 'POST', path: '/imports', tenantId: tenant, body: {} }));
    const second = await call(apiEvent({ method: 'POST', path: '/imports', tenantId: tenant, body: {} }));
    const list = await call(apiEvent({ method: 'GET', path: '/imports', tenantId: tenant }));
    expect(list.body.items.map((item: { importId: string }) => item.importId)).toEqual([second.body.importId, first.body.importId]);
    const own = await call(
      apiEvent({ method: 'GET', path: `/imports/${first.body.importId}`, routePath: '/imports/{importId}', tenantId: tenant, pathParameters: { importId: first.body.importId } }),
    );
    expect(own.body).toMatchObject({ importId: first.body.importId, status: 'waiting_upload', counts: { rows: 0 } });
    const foreign = await call(
      apiEvent({ method: 'GET', path: `/imports/${first.body.importId}`, routePath: '/imports/{importId}', tenantId: uniqueTenant(), pathParameters: { importId: first.body.importId } }),
    );
    expect(foreign).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    expect(JSON.stringify(foreign.body)).not.toContain(tenant);
  });

  it('POST /properties declares a type, repeats idempotently, refuses reserved names and type changes once values exist', async () => {
    const tenant = uniqueTenant();
    const post = (body: unknown) => call(apiEvent({ method: 'POST', path: '/properties', tenantId: tenant, body }));
    expect(await post({ name: 'score', type: 'number' })).toMatchObject({ status: 201, body: { name: 'score', type: 'number', source: 'api' } });
    expect((await post({ name: 'score', type: 'number' })).status).toBe(200);
    expect(await post({ name: 'score', type: 'string' })).toMatchObject({ status: 200, body: { type: 'string' } });
    expect((await post({ name: 'email', type: 'string' })).status).toBe(400);
    expect((await post({ name: 'Score', type: 'string' })).status).toBe(400);
    const { registry } = await import('../support/import-harness.js');
    await registry.ensure(tenant, ['score'], 'csv');
    const refused = await post({ name: 'score', type: 'date' });
    expect(refused).toMatchObject({ status: 409, body: { error: { code: 'conflict', message: expect.stringMatching(/already hold values/) } } });
  });
});
