import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../infra/local/free-port.js';
import type { LocalEndpoints } from '../../infra/local/local-settings.js';
import { startFakeSalesforce, type FakeSalesforce } from '../support/fake-salesforce/fake-salesforce.js';
import { closesWithin, runCli, startProcess, type StartedProcess } from '../support/processes.js';

/**
 * The local stack end to end, as a user runs it: `npm start`, the operator CLI, HTTP calls,
 * an upload, a stop with SIGTERM, and a second start on the same data.
 */
describe('npm start (the local stack)', () => {
  let dataDir: string;
  let port: number;
  let stack: StartedProcess | undefined;
  let salesforce: FakeSalesforce;
  // The fake Salesforce's connected app, as a user trying the flow without an org would set it (README).
  const env = () => ({
    PORT: String(port),
    ROSTER_DATA_DIR: dataDir,
    POWERTOOLS_LOG_LEVEL: 'INFO',
    SALESFORCE_CLIENT_ID: salesforce.clientId,
    SALESFORCE_CLIENT_SECRET: salesforce.clientSecret,
  });
  const api = (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${port}${path}`, init);
  const bearer = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });
  const endpoints = (): LocalEndpoints => JSON.parse(readFileSync(join(dataDir, 'endpoints.json'), 'utf8'));

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'roster-local-'));
    port = await freePort();
    salesforce = await startFakeSalesforce();
  });

  afterAll(async () => {
    const running = existsSync(join(dataDir, 'endpoints.json')) ? endpoints() : undefined;
    await stack?.stop();
    // Wait until the stack has stopped its children (DynamoDB Local) before removing their data.
    if (running) await closesWithin(Number(new URL(running.dynamodb).port), 20_000);
    rmSync(dataDir, { recursive: true, force: true });
    await salesforce?.close();
  });

  it('serves the API, authenticates keys from the CLI, runs an import from a presigned upload, and keeps data across restarts', async () => {
    stack = startProcess('npm', ['start'], env());
    await stack.waitFor(new RegExp(`Roster local stack ready on http://127\\.0\\.0\\.1:${port}\\n`), 90_000);

    const health = await api('/health');
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });

    const created = runCli(['tenants', 'create', 'acme', '--name', 'Acme'], env());
    expect(created.status).toBe(0);
    const acme = created.json();
    expect(acme).toEqual({ tenantId: 'acme', apiKey: expect.stringMatching(/^rk_/), keyId: expect.any(String) });

    expect((await api('/properties', bearer(acme.apiKey))).status).toBe(200);
    // Refusals and unknown paths answer in the API's error format, as deployed (the authorizer never refuses; the function does).
    const refusals = [await api('/properties'), await api('/properties', bearer(`${acme.apiKey.slice(0, -2)}xx`)), await api('/properties', { headers: { authorization: 'Basic abc' } })];
    for (const refused of refusals) {
      expect(refused.status).toBe(401);
      expect(await refused.json()).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    }
    const unknown = await api('/no-such-route', bearer(acme.apiKey));
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: 'not_found' } });
    expect((await api('/properties/', bearer(acme.apiKey))).status).toBe(200);

    const second = runCli(['api-keys', 'create', 'acme'], env()).json();
    expect(runCli(['api-keys', 'revoke', 'acme', acme.keyId], env()).json()).toEqual({ revoked: true });
    expect((await api('/properties', bearer(acme.apiKey))).status).toBe(401);
    expect((await api('/properties', bearer(second.apiKey))).status).toBe(200);

    const duplicate = runCli(['tenants', 'create', 'acme'], env());
    expect(duplicate.status).not.toBe(0);
    expect(duplicate.stdout).toBe('');
    expect(duplicate.stderr).toMatch(/already exists/);

    // An upload to the presigned URL runs the import, exactly as in AWS (S3 event → importer).
    const createdImport = await api('/imports', {
      method: 'POST',
      headers: { authorization: `Bearer ${second.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ filename: 'team.csv' }),
    });
    expect(createdImport.status).toBe(201);
    const upload: any = await createdImport.json();
    const put = await fetch(upload.uploadUrl, { method: upload.uploadMethod, headers: upload.uploadHeaders, body: 'Email,Team\nada@example.com,core\nbob@example.com,infra\n' });
    expect(put.status).toBe(200);
    let status: any;
    for (let attempt = 0; attempt < 100; attempt += 1) {
      status = await (await api(`/imports/${upload.importId}`, bearer(second.apiKey))).json();
      if (!['waiting_upload', 'processing'].includes(status.status)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toMatchObject({ status: 'completed', counts: { rows: 2, created: 2, failed: 0 } });

    // An export runs in the export function (asynchronous invocation) and downloads from its URL.
    const createdExport = await api('/exports', {
      method: 'POST',
      headers: { authorization: `Bearer ${second.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'users', properties: ['team'] }),
    });
    expect(createdExport.status).toBe(202);
    const { exportId } = (await createdExport.json()) as { exportId: string };
    let exported: any;
    for (let attempt = 0; attempt < 100; attempt += 1) {
      exported = await (await api(`/exports/${exportId}`, bearer(second.apiKey))).json();
      if (exported.status !== 'processing') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(exported).toMatchObject({ status: 'completed', rows: 2, downloadUrl: expect.any(String) });
    const bytes = Buffer.from(await (await fetch(exported.downloadUrl)).arrayBuffer());
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const csv = bytes.subarray(3).toString('utf8');
    expect(csv.split('\n')[0]).toBe('user_id,email,external_id,created_at,updated_at,team');
    expect(csv).toContain(',ada@example.com,,');

    // Salesforce without an org: connect through the fake's authorize page (it approves at once
    // and redirects the browser to the local callback), save the import, run it now.
    const json = (method: string, body: unknown) => ({ method, headers: { authorization: `Bearer ${second.apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    salesforce.org(salesforce.defaultOrgId).insert('Contact', [
      { FirstName: 'Cy', LastName: 'Ng', Email: 'cy@example.com' },
      { FirstName: 'Di', LastName: 'Oh', Email: 'di@example.com' },
    ]);
    const connect: any = await (await api('/integrations/salesforce/connect', json('POST', { loginUrl: salesforce.url }))).json();
    const approved = await fetch(connect.authorizeUrl, { redirect: 'manual' });
    expect(approved.status).toBe(302);
    const callback = approved.headers.get('location')!;
    expect(callback.startsWith(`http://127.0.0.1:${port}/integrations/salesforce/callback?`)).toBe(true);
    const page = await fetch(callback);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Salesforce is connected');
    const saved = await api('/integrations/salesforce', json('PUT', { import: { enabled: true, object: 'Contact', emailField: 'Email', fields: ['FirstName'] } }));
    expect(saved.status).toBe(200);
    expect((await api('/integrations/salesforce/runs', json('POST', undefined))).status).toBe(202);
    let runs: any;
    for (let attempt = 0; attempt < 100; attempt += 1) {
      runs = await (await api('/integrations/salesforce/runs', bearer(second.apiKey))).json();
      if (runs.items[0]?.status !== 'running') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(runs.items[0]).toMatchObject({ status: 'succeeded', counts: { rows: 2, created: 2 } });

    // SIGTERM stops the stack and every child it started.
    const dynamoPort = Number(new URL(endpoints().dynamodb).port);
    await stack.stop('SIGTERM');
    expect(await closesWithin(dynamoPort, 20_000)).toBe(true);
    expect(await closesWithin(port, 20_000)).toBe(true);
    expect(runCli(['tenants', 'list'], env()).stderr).toMatch(/no local stack is running/);

    // A second start reuses the data.
    stack = startProcess('npm', ['start'], env());
    await stack.waitFor(/Roster local stack ready on/, 90_000);
    expect(runCli(['tenants', 'list'], env()).json()).toEqual({ tenants: [{ tenantId: 'acme', name: 'Acme', createdAt: expect.any(String) }] });
    expect((await api('/properties', bearer(second.apiKey))).status).toBe(200);
    expect((await api('/properties', bearer(acme.apiKey))).status).toBe(401);
  }, 240_000);
});
