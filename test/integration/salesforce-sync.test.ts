import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SalesforceApi } from '../../shared/integrations/salesforce/salesforce-api.js';
import { newSalesforceRun, parseWatermark } from '../../shared/integrations/salesforce/salesforce-sync-run.js';
import type { SalesforceTokenSecret } from '../../shared/integrations/salesforce/salesforce-tokens.js';
import { logger } from '../../shared/logging/logger.js';
import { integrationSecretName } from '../../shared/secrets/secret-store.js';
import type { SecretsManagerSecretStore } from '../../shared/secrets/secrets-manager-secret-store.js';
import { createUser } from '../../shared/users/user-service.js';
import { userDirectory } from '../../shared/wiring/stores.js';
import { startFakeSalesforce, type FakeSalesforce } from '../support/fake-salesforce/fake-salesforce.js';
import { allUsers, env, registry, uniqueTenant, userByEmail } from '../support/import-harness.js';
import { startSecrets } from '../support/postgres-sync-harness.js';
import { configureSalesforce, connectOrg, driveSalesforce, integrations, oauthFor, syncSalesforce, tokensFor, users } from '../support/salesforce-harness.js';

/**
 * Salesforce runs against the fake Salesforce: the import over REST and Bulk API 2.0, the
 * incremental boundary, tokens, the export, the quota guard and faults.
 */
let fake: FakeSalesforce;
let secrets: { store: SecretsManagerSecretStore; close: () => Promise<void> };

beforeAll(async () => {
  [fake, secrets] = await Promise.all([startFakeSalesforce(), startSecrets()]);
});

afterAll(async () => {
  await Promise.all([fake?.close(), secrets?.close()]);
});

let orgCounter = 0;
/** A fresh tenant connected to a fresh org. */
async function tenantWithOrg(prefix = 'sf') {
  const tenantId = uniqueTenant(prefix);
  const orgId = `org-${tenantId}-${(orgCounter += 1)}`;
  await connectOrg(fake, secrets.store, tenantId, orgId);
  return { tenantId, orgId, org: fake.org(orgId) };
}

const contacts = (count: number, from = 0) =>
  Array.from({ length: count }, (_, index) => ({
    FirstName: `First${from + index}`,
    LastName: `Last${from + index}`,
    Email: `person${from + index}@example.com`,
    Loyalty_Tier__c: index % 2 === 0 ? 'Gold' : 'Silver',
    Lifetime_Value__c: from + index,
    HasOptedOutOfEmail: index % 3 === 0,
  }));

const importSettings = (extra: Record<string, unknown> = {}) => ({
  import: { enabled: true, object: 'Contact', emailField: 'Email', mode: 'all', fields: ['FirstName', 'LastName', 'Loyalty_Tier__c', 'Lifetime_Value__c', 'HasOptedOutOfEmail'], ...extra },
});

describe('Salesforce import', () => {
  it('imports 2,500 contacts through a Bulk API 2.0 query read page by page, and the same through REST paging, with the same users', async () => {
    const bulk = await tenantWithOrg();
    bulk.org.insert('Contact', contacts(2_500));
    await configureSalesforce(fake, secrets.store, bulk.tenantId, importSettings());
    const viaBulk = await syncSalesforce(fake, secrets.store, bulk.tenantId, { settings: { import: { bulkPageSize: 1_000 } } });
    expect(viaBulk.run.status).toBe('succeeded');
    expect(viaBulk.run.counts).toMatchObject({ rows: 2_500, created: 2_500, failed: 0 });
    expect(fake.requests.filter((request) => request.orgId === bulk.orgId && /\/jobs\/query\/[^/]+\/results/.test(request.path))).toHaveLength(3);

    const rest = await tenantWithOrg();
    rest.org.insert('Contact', contacts(2_500));
    await configureSalesforce(fake, secrets.store, rest.tenantId, importSettings());
    const viaRest = await syncSalesforce(fake, secrets.store, rest.tenantId, { settings: { import: { restLimit: 5_000 } } });
    expect(viaRest.run.status).toBe('succeeded');
    expect(viaRest.run.counts).toMatchObject({ rows: 2_500, created: 2_500, failed: 0 });
    expect(fake.requests.filter((request) => request.orgId === rest.orgId && /\/query\/[^/?]+-\d+/.test(request.path))).toHaveLength(1);

    const shape = (list: Awaited<ReturnType<typeof allUsers>>) => list.map((user) => [user.email, user.properties]).sort();
    const [bulkUsers, restUsers] = await Promise.all([allUsers(bulk.tenantId), allUsers(rest.tenantId)]);
    expect(bulkUsers).toHaveLength(2_500);
    expect(shape(bulkUsers)).toEqual(shape(restUsers));
    const first = bulkUsers.find((user) => user.email === 'person0@example.com')!;
    expect(first.properties).toEqual({ first_name: 'First0', last_name: 'Last0', loyalty_tier: 'Gold', lifetime_value: 0, has_opted_out_of_email: true });
    expect(viaBulk.run.apiCalls).toBeGreaterThan(0);
    expect((await integrations.get(bulk.tenantId, 'salesforce'))?.watermark).toBeTruthy();
  });
});

const userDeps = { users, directory: userDirectory(env), registry };

/** Token endpoint requests the fake has answered so far (refreshes and code exchanges). */
const tokenRequests = () => fake.requests.filter((request) => request.path.startsWith('/services/oauth2/token')).length;

const secretOf = async (tenantId: string) => JSON.parse((await secrets.store.get(integrationSecretName(tenantId, 'salesforce')))!) as SalesforceTokenSecret;

const watermarkText = async (tenantId: string) => (await integrations.get(tenantId, 'salesforce'))?.watermark;
const watermarkOf = async (tenantId: string) => parseWatermark(await watermarkText(tenantId));

/** Requests the fake logged for one org since `from` (an index into `fake.requests`). */
const orgRequests = (orgId: string, from: number) => fake.requests.slice(from).filter((request) => request.orgId === orgId);

/** Export settings on Contact: the import reads FirstName only, so every other field may be exported. */
const exportBody = (exportSettings: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
  import: { enabled: true, object: 'Contact', emailField: 'Email', mode: 'all', fields: ['FirstName'] },
  export: { enabled: true, userIdField: 'Roster_Id__c', mode: 'all', mapping: { plan: 'Description' }, ...exportSettings },
  ...extra,
});

async function rosterUser(tenantId: string, email: string, properties: Record<string, unknown> = {}) {
  return (await createUser(userDeps, tenantId, { email, properties })).body;
}

/** Starts a run the way "run now" does, without driving it. */
async function startRunOf(tenantId: string) {
  const item = await integrations.get(tenantId, 'salesforce');
  const run = newSalesforceRun(tenantId, 'manual', item!.configVersion);
  const started = await integrations.startRun(run, 60_000, new Date());
  expect(started.started).toBe(true);
  return { kind: 'salesforce-sync' as const, tenantId, runId: run.runId };
}

describe('Salesforce import: identity, modes and the incremental boundary', () => {
  it('collapses emails differing only by case onto one user and reports invalid emails as row errors naming the record, writing nothing for them', async () => {
    const { tenantId, org } = await tenantWithOrg();
    org.setClock('2026-02-01T10:00:00.000Z');
    const ids = org.insert('Contact', [
      { FirstName: 'Ann', LastName: 'Upper', Email: 'Ann@Example.com' },
      { FirstName: 'Annie', LastName: 'Lower', Email: 'ann@example.com' },
      { FirstName: 'Bad', LastName: 'Address', Email: 'not-an-email' },
      { FirstName: 'No', LastName: 'Address', Email: '' },
    ]);
    await configureSalesforce(fake, secrets.store, tenantId, importSettings());
    const { run } = await syncSalesforce(fake, secrets.store, tenantId);

    expect(run.status).toBe('succeeded');
    expect(run.counts).toMatchObject({ rows: 4, created: 1, skipped: 0, failed: 2 });
    expect(run.counts.updated + run.counts.unchanged).toBe(1);
    expect(run.errorCount).toBe(2);
    expect(run.errors).toHaveLength(2);
    expect(run.errors[0]).toMatchObject({ line: 3, column: 'Email', value: 'not-an-email' });
    expect(run.errors[0]!.message).toContain(ids[2]!);
    expect(run.errors[1]).toMatchObject({ line: 4, column: 'Email' });
    expect(run.errors[1]!.message).toContain(ids[3]!);

    const stored = await allUsers(tenantId);
    expect(stored).toHaveLength(1);
    expect(stored[0]!.email).toBe('ann@example.com');
    // Later rows win per property.
    expect(stored[0]!.properties).toMatchObject({ first_name: 'Annie', last_name: 'Lower' });
  });

  it('mode "existing" updates only users that already exist and counts the others as skipped', async () => {
    const { tenantId, org } = await tenantWithOrg();
    org.insert('Contact', contacts(4));
    const existing = [await rosterUser(tenantId, 'person0@example.com'), await rosterUser(tenantId, 'PERSON2@example.com')];
    await configureSalesforce(fake, secrets.store, tenantId, importSettings({ mode: 'existing' }));
    const { run } = await syncSalesforce(fake, secrets.store, tenantId);

    expect(run.status).toBe('succeeded');
    expect(run.counts).toMatchObject({ rows: 4, created: 0, updated: 2, unchanged: 0, skipped: 2, failed: 0 });
    const stored = await allUsers(tenantId);
    expect(stored.map((user) => user.email).sort()).toEqual(['person0@example.com', 'person2@example.com']);
    expect(stored.map((user) => user.userId).sort()).toEqual(existing.map((user) => user.userId).sort());
    expect((await userByEmail(tenantId, 'person2@example.com'))!.properties).toMatchObject({ first_name: 'First2', loyalty_tier: 'Gold', lifetime_value: 2 });
  });

  it('reads records sharing the boundary SystemModstamp exactly once (SystemModstamp = :since AND Id > :lastId), then only what changed; a failed run leaves the watermark where it was', async () => {
    const { tenantId, org } = await tenantWithOrg();
    org.setClock('2026-01-01T00:00:00.000Z');
    const first = org.insert('Contact', contacts(3));
    await configureSalesforce(fake, secrets.store, tenantId, importSettings());

    const run1 = await syncSalesforce(fake, secrets.store, tenantId);
    expect(run1.run.status).toBe('succeeded');
    expect(run1.run.counts).toMatchObject({ rows: 3, created: 3, failed: 0 });
    const mark1 = await watermarkOf(tenantId);
    expect(mark1.import?.id).toBe(first[2]);
    expect(Date.parse(mark1.import!.modstamp.replace(/\+0000$/, 'Z'))).toBe(Date.parse('2026-01-01T00:00:00.000Z'));

    // Same clock: the new records share the watermark's SystemModstamp; their Ids sort after.
    const second = org.insert('Contact', contacts(2, 3));
    expect(second[0]! > first[2]!).toBe(true);
    const run2 = await syncSalesforce(fake, secrets.store, tenantId);
    expect(run2.run.status).toBe('succeeded');
    expect(run2.run.counts).toMatchObject({ rows: 2, created: 2, updated: 0, unchanged: 0, failed: 0 });
    expect((await watermarkOf(tenantId)).import?.id).toBe(second[1]);

    org.setClock('2026-01-01T00:00:07.000Z');
    org.update('Contact', first[0]!, { FirstName: 'Changed' });
    const run3 = await syncSalesforce(fake, secrets.store, tenantId);
    expect(run3.run.status).toBe('succeeded');
    expect(run3.run.counts).toMatchObject({ rows: 1, created: 0, updated: 1, unchanged: 0, failed: 0 });
    expect((await userByEmail(tenantId, 'person0@example.com'))!.properties.first_name).toBe('Changed');
    expect(await allUsers(tenantId)).toHaveLength(5);

    // A failed run (here: the quota guard) does not move the watermark; the next run reads exactly what is new.
    org.setClock('2026-01-01T00:01:00.000Z');
    org.insert('Contact', contacts(4, 5));
    const before = await watermarkText(tenantId);
    org.setApiUsage(49_999, 100_000);
    const failed = await syncSalesforce(fake, secrets.store, tenantId);
    expect(failed.run.status).toBe('failed');
    expect(failed.run.error?.code).toBe('api_quota');
    expect(await watermarkText(tenantId)).toBe(before);

    org.setApiUsage(0, 100_000);
    const again = await syncSalesforce(fake, secrets.store, tenantId);
    expect(again.run.status).toBe('succeeded');
    expect(again.run.counts).toMatchObject({ rows: 4, created: 4, unchanged: 0, updated: 0, failed: 0 });
    expect(await allUsers(tenantId)).toHaveLength(9);
    expect(await watermarkText(tenantId)).not.toBe(before);
  });

  it('a Salesforce error answer to a Bulk results page keeps its error code: the limit running out mid-read fails the run with api_limit_exceeded and keeps the watermark', async () => {
    const { tenantId, org } = await tenantWithOrg();
    org.insert('Contact', contacts(6));
    await configureSalesforce(fake, secrets.store, tenantId, importSettings());
    const bulk = { settings: { import: { restLimit: 2, bulkPageSize: 2 } } };
    // The first page lands; the second is refused with Salesforce's JSON error (403 REQUEST_LIMIT_EXCEEDED).
    fake.injectFault({ path: /\/jobs\/query\/[^/?]+\/results\?.*locator=/, status: 403, times: 1 });
    const outcome = await syncSalesforce(fake, secrets.store, tenantId, bulk).then(
      (result) => result.run.error?.code ?? result.run.status,
      (error: { errorCode?: string; message?: string }) => `the invocation threw ${error.errorCode}: ${error.message}`,
    );
    expect(outcome).toBe('api_limit_exceeded');
    expect(await watermarkText(tenantId)).toBeUndefined();
    expect(await allUsers(tenantId)).toHaveLength(2);
  });
});

describe('Salesforce tokens', () => {
  it('refreshes an expired session mid-run and persists the rotation; a refused refresh token disconnects the integration and later runs fail without asking Salesforce again', async () => {
    const { tenantId, orgId, org } = await tenantWithOrg();
    org.insert('Contact', contacts(3));
    await configureSalesforce(fake, secrets.store, tenantId, importSettings());
    const before = await secretOf(tenantId);

    fake.expireSessions(orgId);
    const tokensBefore = tokenRequests();
    const first = await syncSalesforce(fake, secrets.store, tenantId);
    expect(first.run.status).toBe('succeeded');
    expect(first.run.counts).toMatchObject({ rows: 3, created: 3, failed: 0 });
    expect(tokenRequests() - tokensBefore).toBe(1);
    const after = await secretOf(tenantId);
    expect(after.refreshToken).not.toBe(before.refreshToken);
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(after).toMatchObject({ instanceUrl: before.instanceUrl, loginUrl: before.loginUrl, orgId });
    // The rotated-out refresh token is dead.
    await expect(oauthFor(fake).refresh(fake.url, before.refreshToken)).rejects.toMatchObject({ name: 'invalid_grant' });

    fake.revokeAll(orgId);
    fake.expireSessions(orgId);
    const second = await syncSalesforce(fake, secrets.store, tenantId);
    expect(second.run.status).toBe('failed');
    expect(second.run.error?.code).toBe('salesforce_disconnected');
    const item = await integrations.get(tenantId, 'salesforce');
    expect(item?.connection?.disconnected?.reason).toContain('invalid_grant');

    const tokensNow = tokenRequests();
    const requestsNow = fake.requests.length;
    const third = await syncSalesforce(fake, secrets.store, tenantId);
    expect(third.run.status).toBe('failed');
    expect(third.run.error?.code).toBe('salesforce_disconnected');
    expect(tokenRequests()).toBe(tokensNow);
    expect(fake.requests.length).toBe(requestsNow);
    expect(await allUsers(tenantId)).toHaveLength(3);
  });

  it('serialises concurrent refreshes of one tenant: one token request, one new access token, and the rotated refresh token still works', async () => {
    const { tenantId, orgId } = await tenantWithOrg();
    const old = await secretOf(tenantId);
    fake.expireSessions(orgId);
    const keepers = [tokensFor(fake, secrets.store)(tenantId), tokensFor(fake, secrets.store)(tenantId)];
    const tokensBefore = tokenRequests();
    const [a, b] = await Promise.all(keepers.map((keeper) => keeper.refresh(old.accessToken)));

    expect(tokenRequests() - tokensBefore).toBe(1);
    expect(keepers[0]!.refreshes + keepers[1]!.refreshes).toBe(1);
    expect(a!.accessToken).toBeTruthy();
    expect(a!.accessToken).not.toBe(old.accessToken);
    expect(b!.accessToken).toBe(a!.accessToken);
    const stored = await secretOf(tenantId);
    expect(stored.accessToken).toBe(a!.accessToken);
    expect(stored.refreshToken).not.toBe(old.refreshToken);

    // The new session works, and the rotated refresh token in the secret refreshes again.
    const api = await SalesforceApi.open(tokensFor(fake, secrets.store)(tenantId), { retryDelaysMs: [] });
    await expect(api.limits()).resolves.toMatchObject({ max: 100_000 });
    const third = tokensFor(fake, secrets.store)(tenantId);
    const again = await third.refresh(a!.accessToken);
    expect(third.refreshes).toBe(1);
    expect(again.accessToken).not.toBe(a!.accessToken);
    expect((await secretOf(tenantId)).refreshToken).toBe(again.refreshToken);
    expect(tokenRequests() - tokensBefore).toBe(2);
  });
});

describe('Salesforce continuation and Bulk jobs', () => {
  const lowTime = () => 1_000;

  it('continues a REST import in a new invocation after the first page, with exact counts and no user twice', async () => {
    const { tenantId, org } = await tenantWithOrg();
    org.setClock('2026-03-01T08:00:00.000Z');
    org.insert('Contact', contacts(2_050));
    await configureSalesforce(fake, secrets.store, tenantId, importSettings());
    const { run, results } = await syncSalesforce(fake, secrets.store, tenantId, { settings: { stopWhenRemainingMs: 60_000, import: { restLimit: 5_000 } }, remainingMs: lowTime });

    expect(results).toEqual(['continued', 'succeeded']);
    expect(run.status).toBe('succeeded');
    expect(run.invocations).toBe(2);
    expect(run.counts).toMatchObject({ rows: 2_050, created: 2_050, updated: 0, unchanged: 0, failed: 0 });
    const stored = await allUsers(tenantId);
    expect(stored).toHaveLength(2_050);
    expect(new Set(stored.map((user) => user.email)).size).toBe(2_050);
  });

  it('continues a Bulk import between locator pages, each page read once, with exact counts', async () => {
    const { tenantId, orgId, org } = await tenantWithOrg();
    org.insert('Contact', contacts(10));
    await configureSalesforce(fake, secrets.store, tenantId, importSettings());
    const from = fake.requests.length;
    const { run, results } = await syncSalesforce(fake, secrets.store, tenantId, {
      settings: { stopWhenRemainingMs: 60_000, import: { restLimit: 2, bulkPageSize: 3 } },
      remainingMs: lowTime,
    });

    // Stopped while the job ran, then after each of the first three pages (3 + 3 + 3 + 1).
    expect(results).toEqual(['continued', 'continued', 'continued', 'continued', 'succeeded']);
    expect(run.status).toBe('succeeded');
    expect(run.counts).toMatchObject({ rows: 10, created: 10, updated: 0, unchanged: 0, failed: 0 });
    expect(orgRequests(orgId, from).filter((request) => /\/jobs\/query\/[^/]+\/results/.test(request.path))).toHaveLength(4);
    expect(orgRequests(orgId, from).filter((request) => request.method === 'POST' && /\/jobs\/query$/.test(request.path))).toHaveLength(1);
    const stored = await allUsers(tenantId);
    expect(stored).toHaveLength(10);
    expect(new Set(stored.map((user) => user.email)).size).toBe(10);
  });

  it('fails the run when the Bulk query job fails, and aborts a query job that does not finish in time', async () => {
    const failing = await tenantWithOrg();
    failing.org.insert('Contact', contacts(5));
    await configureSalesforce(fake, secrets.store, failing.tenantId, importSettings());
    failing.org.failNextQueryJob('InternalServerError: the query could not be completed');
    const failed = await syncSalesforce(fake, secrets.store, failing.tenantId, { settings: { import: { restLimit: 2 } } });
    expect(failed.run.status).toBe('failed');
    expect(failed.run.error?.code).toBe('bulk_query_failed');
    expect(failed.run.error?.message).toContain('the query could not be completed');
    expect(await allUsers(failing.tenantId)).toHaveLength(0);
    expect(await watermarkText(failing.tenantId)).toBeUndefined();

    const stuck = await tenantWithOrg();
    stuck.org.insert('Contact', contacts(5));
    await configureSalesforce(fake, secrets.store, stuck.tenantId, importSettings());
    stuck.org.stallQueryJobs(true);
    try {
      const timedOut = await syncSalesforce(fake, secrets.store, stuck.tenantId, { settings: { import: { restLimit: 2, bulkJobTimeoutMs: 50 } } });
      expect(timedOut.run.status).toBe('failed');
      expect(timedOut.run.error?.code).toBe('bulk_job_timeout');
      expect(stuck.org.jobs().query.map((job) => job.state)).toEqual(['Aborted']);
      expect(await allUsers(stuck.tenantId)).toHaveLength(0);
      expect(await watermarkText(stuck.tenantId)).toBeUndefined();
    } finally {
      stuck.org.stallQueryJobs(false);
    }
  });
});

describe('Salesforce export', () => {
  it('mode "all" creates missing records with the email, the Roster ID and the mapping; a required field left out fails per record', async () => {
    const { tenantId, org } = await tenantWithOrg('sfx');
    const people: Array<Awaited<ReturnType<typeof rosterUser>>> = [];
    for (const name of ['ada', 'bea', 'cy']) people.push(await rosterUser(tenantId, `${name}@roster.test`, { plan: `Plan ${name}`, surname: `Surname ${name}` }));

    // Without LastName the org refuses every create.
    await configureSalesforce(fake, secrets.store, tenantId, exportBody());
    const first = await syncSalesforce(fake, secrets.store, tenantId);
    expect(first.run.status).toBe('succeeded');
    expect(first.run.counts).toMatchObject({ rows: 0 });
    expect(first.run.exportCounts).toEqual({ users: 3, created: 0, updated: 0, unchanged: 0, skipped: 0, failed: 3 });
    expect(first.run.errorCount).toBe(3);
    expect(first.run.errors.map((error) => error.value).sort()).toEqual(people.map((user) => user.userId).sort());
    for (const error of first.run.errors) expect(error.message).toMatch(/^export: REQUIRED_FIELD_MISSING: .*LastName/);
    expect(org.records('Contact')).toHaveLength(0);
    expect((await watermarkOf(tenantId)).export).toBeUndefined();

    await configureSalesforce(fake, secrets.store, tenantId, exportBody({ mapping: { plan: 'Description', surname: 'LastName' } }));
    const second = await syncSalesforce(fake, secrets.store, tenantId);
    expect(second.run.status).toBe('succeeded');
    expect(second.run.exportCounts).toEqual({ users: 3, created: 3, updated: 0, unchanged: 0, skipped: 0, failed: 0 });
    expect(second.run.errorCount).toBe(0);
    const records = org.records('Contact');
    expect(records).toHaveLength(3);
    for (const user of people) {
      const name = user.email.split('@')[0];
      expect(records.find((record) => record.Roster_Id__c === user.userId)).toMatchObject({ Email: user.email, Description: `Plan ${name}`, LastName: `Surname ${name}` });
    }
    expect((await watermarkOf(tenantId)).export).toBe(second.run.startedAt);
  });

  it('mode "existing" never creates but updates a record matched by email, writing the Roster ID; a second run right after writes nothing', async () => {
    const { tenantId, orgId, org } = await tenantWithOrg('sfx');
    const [annId, bobId] = org.insert('Contact', [
      { FirstName: 'Ann', LastName: 'Ames', Email: 'Ann@Example.org' },
      { FirstName: 'Bob', LastName: 'Burns', Email: 'bob@example.org', Description: 'VIP since 2019' },
    ]);
    const ann = await rosterUser(tenantId, 'ann@example.org', { plan: 'Gold' });
    await rosterUser(tenantId, 'cat@example.org', { plan: 'Silver' });
    await configureSalesforce(fake, secrets.store, tenantId, exportBody({ mode: 'existing' }));

    const first = await syncSalesforce(fake, secrets.store, tenantId);
    expect(first.run.status).toBe('succeeded');
    expect(first.run.counts).toMatchObject({ rows: 2, created: 1, updated: 1, failed: 0 });
    expect(first.run.exportCounts).toEqual({ users: 3, created: 0, updated: 2, unchanged: 0, skipped: 1, failed: 0 });
    const bob = (await userByEmail(tenantId, 'bob@example.org'))!;
    expect(org.records('Contact')).toHaveLength(2);
    expect(org.find('Contact', annId!)).toMatchObject({ Roster_Id__c: ann.userId, Description: 'Gold', LastName: 'Ames', Email: 'Ann@Example.org' });
    // Bob has no `plan`: his Description is left as it is, never cleared.
    expect(org.find('Contact', bobId!)).toMatchObject({ Roster_Id__c: bob.userId, LastName: 'Burns', Description: 'VIP since 2019' });

    const from = fake.requests.length;
    const second = await syncSalesforce(fake, secrets.store, tenantId);
    expect(second.run.status).toBe('succeeded');
    expect(second.run.counts).toMatchObject({ rows: 2, created: 0, updated: 0, unchanged: 2, failed: 0 });
    expect(second.run.exportCounts).toEqual({ users: 2, created: 0, updated: 0, unchanged: 2, skipped: 0, failed: 0 });
    expect(orgRequests(orgId, from).filter((request) => request.path.includes('/composite/sobjects'))).toHaveLength(0);
    expect(orgRequests(orgId, from).filter((request) => request.method !== 'GET')).toHaveLength(0);
  });

  it('reports records the org refuses with their status code, keeps the export watermark, and writes them on the next run', async () => {
    const { tenantId, org } = await tenantWithOrg('sfx');
    await rosterUser(tenantId, 'xena@roster.test', { plan: 'Pro', surname: 'Xena' });
    const refused = await rosterUser(tenantId, 'yuri@roster.test', { plan: 'Pro', surname: 'Yuri' });
    await configureSalesforce(fake, secrets.store, tenantId, exportBody({ mapping: { plan: 'Description', surname: 'LastName' } }));
    org.failWrites((_object, record) => (record.Email === 'yuri@roster.test' ? { statusCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', message: 'Blocked by a validation rule' } : undefined));
    try {
      const first = await syncSalesforce(fake, secrets.store, tenantId);
      expect(first.run.status).toBe('succeeded');
      expect(first.run.exportCounts).toEqual({ users: 2, created: 1, updated: 0, unchanged: 0, skipped: 0, failed: 1 });
      expect(first.run.errors).toEqual([expect.objectContaining({ value: refused.userId, message: 'export: FIELD_CUSTOM_VALIDATION_EXCEPTION: Blocked by a validation rule' })]);
      expect((await watermarkOf(tenantId)).export).toBeUndefined();
    } finally {
      org.failWrites(undefined);
    }
    const second = await syncSalesforce(fake, secrets.store, tenantId);
    expect(second.run.status).toBe('succeeded');
    expect(second.run.exportCounts).toEqual({ users: 2, created: 1, updated: 0, unchanged: 1, skipped: 0, failed: 0 });
    expect(org.records('Contact').map((record) => record.Email).sort()).toEqual(['xena@roster.test', 'yuri@roster.test']);
    expect((await watermarkOf(tenantId)).export).toBe(second.run.startedAt);
  });

  it('above smallLimit, matches with a Bulk query and writes with Bulk ingest jobs, reporting failedResults', async () => {
    const { tenantId, orgId, org } = await tenantWithOrg('sfx');
    org.insert('Contact', Array.from({ length: 10 }, (_, index) => ({ LastName: `Old${index}`, Email: `u${index}@roster.test` })));
    const people: Array<Awaited<ReturnType<typeof rosterUser>>> = [];
    for (let index = 0; index < 20; index += 1) people.push(await rosterUser(tenantId, `u${index}@roster.test`, { plan: `P${index}`, surname: `S${index}` }));
    await configureSalesforce(fake, secrets.store, tenantId, exportBody({ mapping: { plan: 'Description', surname: 'LastName' } }));
    org.failWrites((_object, record) => (record.Email === 'u15@roster.test' ? { statusCode: 'DUPLICATES_DETECTED', message: 'Use one of these records?', fields: ['Email'] } : undefined));
    const from = fake.requests.length;
    let result: Awaited<ReturnType<typeof syncSalesforce>>;
    try {
      result = await syncSalesforce(fake, secrets.store, tenantId, { settings: { export: { smallLimit: 5 } } });
    } finally {
      org.failWrites(undefined);
    }
    const { run } = result;
    expect(run.status).toBe('succeeded');
    expect(run.counts).toMatchObject({ rows: 10, created: 0, failed: 0 });
    expect(run.exportCounts).toEqual({ users: 20, created: 9, updated: 10, unchanged: 0, skipped: 0, failed: 1 });
    expect(run.errorCount).toBe(1);
    expect(run.errors).toHaveLength(1);
    expect(run.errors[0]!.value).toBe(people[15]!.userId);
    expect(run.errors[0]!.message).toMatch(/^export: DUPLICATES_DETECTED: Use one of these records\?/);
    const requests = orgRequests(orgId, from);
    expect(requests.filter((request) => request.method === 'POST' && /\/jobs\/ingest$/.test(request.path))).toHaveLength(2);
    expect(requests.filter((request) => request.path.includes('/composite/sobjects'))).toHaveLength(0);
    expect(org.jobs().ingest.map((job) => job.state)).toEqual(['JobComplete', 'JobComplete']);
    const records = org.records('Contact');
    expect(records).toHaveLength(19);
    expect(records.find((candidate) => candidate.Email === 'u15@roster.test')).toBeUndefined();
    const written = people.filter((_, index) => index !== 15);
    const shape = (record: Record<string, unknown>) => [record.Email, record.Roster_Id__c, record.Description, record.LastName];
    expect(records.map(shape).sort()).toEqual(written.map((user) => [user.email, user.userId, `P${user.email.slice(1, -12)}`, `S${user.email.slice(1, -12)}`]).sort());
    // The same error as the Collections path reports: Salesforce's message and field, not the rest of the sf__Error cell (`CODE:message:Fields --`).
    expect(run.errors[0]).toMatchObject({ column: 'Email', message: 'export: DUPLICATES_DETECTED: Use one of these records?' });
  });

  it('aborts a Bulk ingest job that does not finish in time, fails the run with bulk_job_timeout and keeps the watermark', async () => {
    const { tenantId, org } = await tenantWithOrg('sfx');
    for (let index = 0; index < 6; index += 1) await rosterUser(tenantId, `w${index}@roster.test`, { plan: 'Basic', surname: `W${index}` });
    await configureSalesforce(fake, secrets.store, tenantId, exportBody({ mapping: { plan: 'Description', surname: 'LastName' } }));
    const bulk = { settings: { export: { smallLimit: 5, jobTimeoutMs: 50 } } };
    const first = await syncSalesforce(fake, secrets.store, tenantId, bulk);
    expect(first.run.status).toBe('succeeded');
    expect(first.run.exportCounts).toMatchObject({ users: 6, created: 6, failed: 0 });
    const before = await watermarkText(tenantId);
    expect(parseWatermark(before).export).toBe(first.run.startedAt);

    for (let index = 0; index < 6; index += 1) await rosterUser(tenantId, `w${index}@roster.test`, { plan: 'Premium' });
    org.stallIngestJobs(true);
    try {
      const stalled = await syncSalesforce(fake, secrets.store, tenantId, bulk);
      expect(stalled.run.status).toBe('failed');
      expect(stalled.run.error?.code).toBe('bulk_job_timeout');
      const ingest = org.jobs().ingest;
      expect(ingest).toHaveLength(2);
      expect(ingest[1]!.state).toBe('Aborted');
    } finally {
      org.stallIngestJobs(false);
    }
    expect(await watermarkText(tenantId)).toBe(before);
    expect(org.records('Contact').map((record) => record.Description)).toEqual(Array(6).fill('Basic'));
  });
});

describe('Salesforce API budget and faults', () => {
  it('stops before taking the org past maxApiShare of its daily requests, refuses nothing when allowed more, and reports REQUEST_LIMIT_EXCEEDED; apiCalls matches what the org counted', async () => {
    const { tenantId, orgId, org } = await tenantWithOrg();
    org.insert('Contact', contacts(3));
    await configureSalesforce(fake, secrets.store, tenantId, importSettings());

    org.setApiUsage(49_999, 100_000);
    const guarded = await syncSalesforce(fake, secrets.store, tenantId);
    expect(guarded.run.status).toBe('failed');
    expect(guarded.run.error?.code).toBe('api_quota');
    expect(guarded.run.error?.message).toContain('50%');
    expect(guarded.run.counts.rows).toBe(0);

    await configureSalesforce(fake, secrets.store, tenantId, { ...importSettings(), maxApiShare: 0.9 });
    org.setApiUsage(49_999, 100_000);
    const callsBefore = fake.apiCalls(orgId);
    const allowed = await syncSalesforce(fake, secrets.store, tenantId);
    expect(allowed.run.status).toBe('succeeded');
    expect(allowed.run.counts).toMatchObject({ rows: 3, created: 3, failed: 0 });
    expect(allowed.run.apiCalls).toBe(fake.apiCalls(orgId) - callsBefore);
    expect(org.apiUsage().used).toBe(49_999 + allowed.run.apiCalls!);

    org.setApiUsage(100_000, 100_000);
    const exhausted = await syncSalesforce(fake, secrets.store, tenantId);
    expect(exhausted.run.status).toBe('failed');
    expect(exhausted.run.error?.code).toBe('api_limit_exceeded');
  });

  it('retries a transient 503 within the run with exact counts, and apiCalls counts the retried request too', async () => {
    const { tenantId, orgId, org } = await tenantWithOrg();
    org.insert('Contact', contacts(3));
    await configureSalesforce(fake, secrets.store, tenantId, importSettings());
    const from = fake.requests.length;
    fake.injectFault({ path: /\/query\?/, status: 503, times: 1 });
    const retried = await syncSalesforce(fake, secrets.store, tenantId);
    expect(retried.run.status).toBe('succeeded');
    expect(retried.run.counts).toMatchObject({ rows: 3, created: 3, updated: 0, unchanged: 0, failed: 0 });
    const requests = orgRequests(orgId, from);
    expect(requests.filter((request) => request.status === 503)).toHaveLength(1);
    expect(await allUsers(tenantId)).toHaveLength(3);
    // Salesforce counts every request it answered, the refused one included.
    expect(retried.run.apiCalls).toBe(requests.filter((request) => request.api).length);
  });

  it('a 503 that persists fails the run with sync_failed after maxFailures invocations, each resuming at its checkpoint; no watermark moves and no user is duplicated', async () => {
    const { tenantId, orgId, org } = await tenantWithOrg();
    org.setClock('2026-04-01T09:00:00.000Z');
    org.insert('Contact', contacts(2));
    await configureSalesforce(fake, secrets.store, tenantId, importSettings());
    const first = await syncSalesforce(fake, secrets.store, tenantId);
    expect(first.run.counts).toMatchObject({ rows: 2, created: 2 });
    const before = await watermarkText(tenantId);

    org.setClock('2026-04-01T09:05:00.000Z');
    org.insert('Contact', contacts(6, 2));
    const bulk = { settings: { import: { restLimit: 2, bulkPageSize: 2 } } };
    const start = fake.requests.length;
    // The first Bulk page lands; every later page answers 503: 4 attempts (retryDelaysMs [10, 20, 40]) per invocation, 3 invocations.
    fake.injectFault({ path: /\/jobs\/query\/[^/?]+\/results\?.*locator=/, status: 503, times: 12 });
    const invocation = await startRunOf(tenantId);
    await expect(driveSalesforce(fake, secrets.store, invocation, bulk)).rejects.toMatchObject({ name: 'SalesforceApiError', errorCode: 'SERVER_UNAVAILABLE' });
    await expect(driveSalesforce(fake, secrets.store, invocation, bulk)).rejects.toMatchObject({ name: 'SalesforceApiError', errorCode: 'SERVER_UNAVAILABLE' });
    expect(await driveSalesforce(fake, secrets.store, invocation, bulk)).toEqual(['failed']);
    const failed = (await integrations.getRun(tenantId, 'salesforce', invocation.runId))!;
    expect(failed.status).toBe('failed');
    expect(failed.error?.code).toBe('sync_failed');
    expect(failed.error?.message).toContain('SERVER_UNAVAILABLE');
    expect(failed.counts).toMatchObject({ rows: 2, created: 2, unchanged: 0 });
    const requests = orgRequests(orgId, start);
    expect(requests.filter((request) => request.status === 503)).toHaveLength(12);
    // One query job for the whole run: the retries resumed at the saved locator.
    expect(requests.filter((request) => request.method === 'POST' && /\/jobs\/query$/.test(request.path))).toHaveLength(1);
    expect(await watermarkText(tenantId)).toBe(before);
    expect(await allUsers(tenantId)).toHaveLength(4);
    // The finished run is not worked on again.
    expect(await driveSalesforce(fake, secrets.store, invocation, bulk)).toEqual(['ignored']);

    const recovered = await syncSalesforce(fake, secrets.store, tenantId, bulk);
    expect(recovered.run.status).toBe('succeeded');
    expect(recovered.run.counts).toMatchObject({ rows: 6, created: 4, unchanged: 2, updated: 0, failed: 0 });
    const stored = await allUsers(tenantId);
    expect(stored).toHaveLength(8);
    expect(new Set(stored.map((user) => user.email)).size).toBe(8);
  });
});

describe('Salesforce tenant isolation and secrets', () => {
  it('imports only the tenant\'s own org into the tenant, touching no other tenant\'s tokens', async () => {
    const a = await tenantWithOrg('sfa');
    const b = await tenantWithOrg('sfb');
    a.org.insert('Contact', contacts(3));
    b.org.insert('Contact', contacts(2, 100));
    await configureSalesforce(fake, secrets.store, a.tenantId, importSettings());
    await configureSalesforce(fake, secrets.store, b.tenantId, importSettings());
    const bSecret = await secrets.store.get(integrationSecretName(b.tenantId, 'salesforce'));

    const from = fake.requests.length;
    const { run } = await syncSalesforce(fake, secrets.store, a.tenantId);
    expect(run.status).toBe('succeeded');
    expect(run.counts).toMatchObject({ rows: 3, created: 3 });
    expect((await allUsers(a.tenantId)).map((user) => user.email).sort()).toEqual(['person0@example.com', 'person1@example.com', 'person2@example.com']);
    expect(await allUsers(b.tenantId)).toHaveLength(0);
    const apiRequests = fake.requests.slice(from).filter((request) => request.api);
    expect(apiRequests.length).toBeGreaterThan(0);
    expect(apiRequests.every((request) => request.orgId === a.orgId)).toBe(true);
    expect(await secrets.store.get(integrationSecretName(b.tenantId, 'salesforce'))).toBe(bSecret);

    const aName = integrationSecretName(a.tenantId, 'salesforce');
    expect(aName).toBe(`roster/${a.tenantId}/salesforce`);
    expect(aName).not.toContain(b.tenantId);
    expect((await secretOf(a.tenantId)).orgId).toBe(a.orgId);

    const other = await syncSalesforce(fake, secrets.store, b.tenantId);
    expect(other.run.counts).toMatchObject({ rows: 2, created: 2 });
    expect((await allUsers(b.tenantId)).map((user) => user.email).sort()).toEqual(['person100@example.com', 'person101@example.com']);
    expect(await allUsers(a.tenantId)).toHaveLength(3);
  });

  it('never writes an access or refresh token to the logs or the run record, even while refreshing at DEBUG level', async () => {
    const { tenantId, orgId, org } = await tenantWithOrg();
    org.insert('Contact', contacts(2));
    await configureSalesforce(fake, secrets.store, tenantId, importSettings());
    const before = await secretOf(tenantId);
    fake.expireSessions(orgId);

    const captured: string[] = [];
    const text = (value: unknown) => (typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : inspect(value, { depth: 10 }));
    const originalStdout = process.stdout.write;
    const originalStderr = process.stderr.write;
    const capture = ((chunk: unknown) => (captured.push(text(chunk)), true)) as typeof process.stdout.write;
    const spies = (['log', 'info', 'warn', 'error', 'debug', 'trace'] as const).map((method) => vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void captured.push(args.map(text).join(' '))));
    const level = logger.getLevelName();
    logger.setLogLevel('DEBUG');
    process.stdout.write = capture;
    process.stderr.write = capture;
    let result: Awaited<ReturnType<typeof syncSalesforce>>;
    try {
      result = await syncSalesforce(fake, secrets.store, tenantId);
    } finally {
      process.stdout.write = originalStdout;
      process.stderr.write = originalStderr;
      logger.setLogLevel(level);
      for (const spy of spies) spy.mockRestore();
    }
    expect(result.run.status).toBe('succeeded');
    const after = await secretOf(tenantId);
    expect(after.refreshToken).not.toBe(before.refreshToken);

    const logs = captured.join('\n');
    // The capture saw the run's log lines (so the absence below means something).
    expect(logs).toContain('salesforce refresh token rotated');
    expect(logs).toContain('salesforce sync succeeded');
    const stored = JSON.stringify([result.run, await integrations.get(tenantId, 'salesforce')]);
    for (const token of [before.accessToken!, before.refreshToken, after.accessToken!, after.refreshToken]) {
      expect(token.length).toBeGreaterThan(20);
      expect(logs).not.toContain(token);
      expect(stored).not.toContain(token);
    }
  });
});
