import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { runRosterCli, type StoreResolver } from '../../infra/cli/roster-cli.js';
import { tenantStore } from '../../shared/wiring/stores.js';
import { testTables } from '../support/test-resources.js';

/** The CLI's commands against DynamoDB Local (the store is injected; `local-stack.test.ts` runs the real binary). */
async function cli(args: string[], resolve: StoreResolver = async () => tenantStore(testTables)) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runRosterCli(args, { stdout: (t) => out.push(t), stderr: (t) => err.push(t), env: {} }, resolve);
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

describe('operator CLI', () => {
  it('creates and lists tenants, prints one JSON object per command', async () => {
    const tenantId = `cli-${randomBytes(4).toString('hex')}`;
    const created = await cli(['tenants', 'create', tenantId, '--name', 'CLI Co']);
    expect(created.code).toBe(0);
    expect(Object.keys(JSON.parse(created.stdout)).sort()).toEqual(['apiKey', 'keyId', 'tenantId']);
    const listed = JSON.parse((await cli(['tenants', 'list'])).stdout);
    expect(listed.tenants).toContainEqual({ tenantId, name: 'CLI Co', createdAt: expect.any(String) });
  });

  it('fails with a message on stderr and nothing on stdout', async () => {
    const cases = [
      { args: ['tenants', 'create', 'Bad_Id'], message: /invalid tenantId/ },
      { args: ['api-keys', 'create', 'no-such-tenant'], message: /does not exist/ },
      { args: ['api-keys', 'revoke', 'no-such-tenant', 'abc'], message: /no active API key/ },
      { args: ['tenants', 'create'], message: /expected: roster tenants create <tenantId>/ },
      { args: ['frobnicate'], message: /unknown command/ },
      { args: ['tenants', 'list', '--bogus'], message: /Unknown option '--bogus'/ },
    ];
    for (const { args, message } of cases) {
      const result = await cli(args);
      expect({ args, code: result.code }).not.toEqual({ args, code: 0 });
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(message);
    }
  });

  it('says how to start the local stack when none is running', async () => {
    const result = await cli(['tenants', 'list'], async () => {
      const { resolveStore } = await import('../../infra/cli/roster-cli.js');
      return resolveStore(undefined, { ROSTER_DATA_DIR: '/nonexistent/roster-data' });
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/no local stack is running.*npm start/);
  });
});
