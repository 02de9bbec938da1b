import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../infra/local/free-port.js';
import type { LocalEndpoints } from '../../infra/local/local-settings.js';
import { closesWithin, runCli, startProcess, type StartedProcess } from '../support/processes.js';

/**
 * The local stack killed (SIGKILL, with its DynamoDB Local child) in the middle of an import:
 * the next start resumes the unfinished invocation from its journal as Lambda's retry, the
 * retry finds the dead run's lease lapsed, resumes from the last checkpoint, and the import
 * completes with exact counts and every user once. Leases and retry delays are shortened
 * (IMPORT_LEASE_SECONDS, ROSTER_LOCAL_RETRY_DELAYS_MS) so the test takes seconds, not minutes.
 */
describe('npm start killed in the middle of an import', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'roster-crash-'));
  let port: number;
  let stack: StartedProcess | undefined;
  const env = () => ({ PORT: String(port), ROSTER_DATA_DIR: dataDir, POWERTOOLS_LOG_LEVEL: 'INFO', IMPORT_LEASE_SECONDS: '5', ROSTER_LOCAL_RETRY_DELAYS_MS: '6000,6000' });
  const endpoints = (): LocalEndpoints => JSON.parse(readFileSync(join(dataDir, 'endpoints.json'), 'utf8'));
  const api = (path: string, key: string, init: RequestInit = {}) =>
    fetch(`http://127.0.0.1:${port}${path}`, { ...init, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...init.headers } });

  afterAll(async () => {
    const running = existsSync(join(dataDir, 'endpoints.json')) ? endpoints() : undefined;
    await stack?.stop();
    if (running) await closesWithin(Number(new URL(running.dynamodb).port), 20_000);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('resumes after the restart and completes with exact counts', async () => {
    port = await freePort();
    stack = startProcess('npm', ['start'], env());
    await stack.waitFor(/Roster local stack ready on/, 90_000);
    const tenant = runCli(['tenants', 'create', 'crashco'], env()).json();

    const rows = 6_000;
    const csv = `email,plan\n${Array.from({ length: rows }, (_, i) => `k${i}@example.com,p${i % 5}`).join('\n')}\n`;
    const upload: any = await (await api('/imports', tenant.apiKey, { method: 'POST', body: JSON.stringify({ filename: 'big.csv' }) })).json();
    expect((await fetch(upload.uploadUrl, { method: 'PUT', headers: upload.uploadHeaders, body: csv })).status).toBe(200);

    // Wait until the import has committed some rows, then kill the whole stack without warning.
    let progress: any;
    for (let attempt = 0; attempt < 600; attempt += 1) {
      progress = await (await api(`/imports/${upload.importId}`, tenant.apiKey)).json();
      if (progress.counts.rows > 0 || progress.status === 'completed') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(progress.status).toBe('processing');
    expect(progress.counts.rows).toBeLessThan(rows);
    const pid = endpoints().pid;
    const children = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
    for (const victim of [pid, ...children]) process.kill(victim, 'SIGKILL');
    await stack.stop();
    await closesWithin(port, 20_000);

    // The next start resumes the invocation the dead process left unfinished.
    stack = startProcess('npm', ['start'], env());
    await stack.waitFor(/Roster local stack ready on/, 90_000);
    await stack.waitFor(/roster-csv-import: resuming an invocation the previous process did not finish/, 10_000);
    let done: any;
    for (let attempt = 0; attempt < 1200; attempt += 1) {
      done = await (await api(`/imports/${upload.importId}`, tenant.apiKey)).json();
      if (done.status !== 'processing') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(done).toMatchObject({ status: 'completed', counts: { rows, created: rows, updated: 0, unchanged: 0, failed: 0 }, errorCount: 0 });
    // Every user exactly once: page through them all.
    const emails = new Set<string>();
    let cursor: string | null = null;
    do {
      const page: any = await (await api(`/users?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, tenant.apiKey)).json();
      for (const user of page.items) {
        expect(emails.has(user.email)).toBe(false);
        emails.add(user.email);
      }
      cursor = page.nextCursor;
    } while (cursor);
    expect(emails.size).toBe(rows);
  }, 300_000);
});
