import { createHash, randomBytes } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import { Connection, OAuth2 } from 'jsforce';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeSalesforce, type FakeSalesforce } from '../support/fake-salesforce/fake-salesforce.js';

/**
 * The fake Salesforce speaks what jsforce 3 expects: OAuth web-server flow with PKCE, REST
 * (query paging, describe, limits, sObject Collections) and Bulk API 2.0, with Salesforce's
 * error formats, limits and session expiry.
 */
const VERSION = '62.0';
const REDIRECT_URI = 'http://localhost:3000/oauth/callback';
const base64url = (buf: Buffer) => buf.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

describe('fake Salesforce', () => {
  let fake: FakeSalesforce;
  let orgCounter = 0;
  /** A fresh, isolated org and a jsforce Connection on it. */
  const newOrg = () => {
    const orgId = `org-test-${++orgCounter}`;
    const tokens = fake.login(orgId);
    const conn = new Connection({ instanceUrl: tokens.instance_url, accessToken: tokens.access_token, version: VERSION });
    return { orgId, org: fake.org(orgId), conn, tokens };
  };
  const oauth2 = () => new OAuth2({ loginUrl: fake.url, clientId: fake.clientId, clientSecret: fake.clientSecret, redirectUri: REDIRECT_URI });
  const raw = (token: string, path: string, init: RequestInit = {}) =>
    fetch(`${fake.url}/services/data/v${VERSION}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) } });

  /** The web-server flow with PKCE, as the production code runs it. */
  async function authorize(orgId?: string) {
    const client = oauth2();
    const verifier = base64url(randomBytes(64));
    const challenge = base64url(createHash('sha256').update(verifier).digest());
    const authorizeUrl = client.getAuthorizationUrl({ scope: 'api refresh_token', state: 'st-1', code_challenge: challenge, code_challenge_method: 'S256' });
    const redirect = new URL(fake.approve(authorizeUrl, orgId ? { orgId } : {}));
    return { client, verifier, redirect, code: redirect.searchParams.get('code') as string };
  }

  beforeAll(async () => {
    fake = await startFakeSalesforce();
  });

  afterAll(async () => {
    await fake.close();
  });

  describe('OAuth', () => {
    it('runs the web-server flow with PKCE through jsforce OAuth2', async () => {
      const { client, verifier, redirect, code } = await authorize();
      expect(`${redirect.origin}${redirect.pathname}`).toBe(REDIRECT_URI);
      expect(redirect.searchParams.get('state')).toBe('st-1');
      const tokens = await client.requestToken(code, { code_verifier: verifier });
      expect(tokens).toMatchObject({ instance_url: fake.url, token_type: 'Bearer', scope: 'api refresh_token' });
      expect(tokens.access_token).toMatch(/^00D[A-Za-z0-9]{12}!/);
      expect(tokens.refresh_token).toBeTruthy();
      expect(tokens.id).toMatch(new RegExp(`^${fake.url}/id/org-default/005[A-Za-z0-9]{15}$`));
      expect(Number(tokens.issued_at)).toBeGreaterThan(0);

      const conn = new Connection({ instanceUrl: tokens.instance_url, accessToken: tokens.access_token, version: VERSION });
      expect(await conn.query('SELECT COUNT() FROM Contact')).toMatchObject({ done: true, records: [] });
      const identity = await (await fetch(tokens.id, { headers: { authorization: `Bearer ${tokens.access_token}` } })).json();
      expect(identity).toMatchObject({ organization_id: 'org-default', user_id: tokens.id.split('/').pop() });

      // A code is single-use.
      await expect(client.requestToken(code, { code_verifier: verifier })).rejects.toMatchObject({ name: 'invalid_grant' });
    });

    it('refuses a wrong code verifier, a wrong redirect uri and bad client credentials', async () => {
      const first = await authorize();
      await expect(first.client.requestToken(first.code, { code_verifier: 'not-the-verifier' })).rejects.toMatchObject({
        name: 'invalid_grant',
        message: 'invalid code verifier',
      });
      const second = await authorize();
      const elsewhere = new OAuth2({ loginUrl: fake.url, clientId: fake.clientId, clientSecret: fake.clientSecret, redirectUri: 'http://localhost:9999/cb' });
      await expect(elsewhere.requestToken(second.code, { code_verifier: second.verifier })).rejects.toMatchObject({ name: 'invalid_grant' });
      const third = await authorize();
      const badSecret = new OAuth2({ loginUrl: fake.url, clientId: fake.clientId, clientSecret: 'wrong', redirectUri: REDIRECT_URI });
      await expect(badSecret.requestToken(third.code, { code_verifier: third.verifier })).rejects.toMatchObject({
        name: 'invalid_client',
        message: 'invalid client credentials',
      });
      const badId = new OAuth2({ loginUrl: fake.url, clientId: 'nope', clientSecret: fake.clientSecret, redirectUri: REDIRECT_URI });
      await expect(badId.requestToken(third.code, { code_verifier: third.verifier })).rejects.toMatchObject({ name: 'invalid_client_id' });
    });

    it('answers the authorize endpoint like Salesforce: redirect, deny, missing challenge, bad client', async () => {
      const url = oauth2().getAuthorizationUrl({ state: 'xyz', code_challenge: 'abc', code_challenge_method: 'S256' });
      const response = await fetch(url, { redirect: 'manual' });
      expect(response.status).toBe(302);
      const location = new URL(response.headers.get('location') as string);
      expect(location.searchParams.get('code')).toBeTruthy();
      expect(location.searchParams.get('state')).toBe('xyz');

      const denied = new URL(fake.approve(url, { deny: true }));
      expect(Object.fromEntries(denied.searchParams)).toMatchObject({ error: 'access_denied', state: 'xyz' });
      const noChallenge = new URL(fake.approve(oauth2().getAuthorizationUrl({ state: 's' })));
      expect(noChallenge.searchParams.get('error')).toBe('invalid_request');

      const bad = await fetch(url.replace(`client_id=${fake.clientId}`, 'client_id=unknown'), { redirect: 'manual' });
      expect(bad.status).toBe(400);
      expect(bad.headers.get('content-type')).toMatch(/text\/html/);
      expect(() => fake.approve(url.replace(`client_id=${fake.clientId}`, 'client_id=unknown'))).toThrow();
    });

    it('rotates refresh tokens and revokes the family when a rotated-out token is reused', async () => {
      const { client, verifier, code } = await authorize();
      const first = await client.requestToken(code, { code_verifier: verifier });
      const second = await client.refreshToken(first.refresh_token as string);
      expect(second.refresh_token).toBeTruthy();
      expect(second.refresh_token).not.toBe(first.refresh_token);
      // Older access tokens stay valid after a refresh, as on Salesforce.
      expect((await raw(first.access_token, '/limits')).status).toBe(200);

      await expect(client.refreshToken(first.refresh_token as string)).rejects.toMatchObject({
        name: 'invalid_grant',
        message: 'expired access/refresh token',
      });
      // Reuse revoked everything of that authorization.
      await expect(client.refreshToken(second.refresh_token as string)).rejects.toMatchObject({ name: 'invalid_grant' });
      expect((await raw(second.access_token, '/limits')).status).toBe(401);
    });

    it('without rotation, answers refreshes without a refresh token; access tokens expire after their TTL', async () => {
      const plain = await startFakeSalesforce({ rotateRefreshTokens: false, accessTokenTtlMs: 100 });
      try {
        const tokens = plain.login();
        const client = new OAuth2({ loginUrl: plain.url, clientId: plain.clientId, clientSecret: plain.clientSecret, redirectUri: REDIRECT_URI });
        const refreshed = await client.refreshToken(tokens.refresh_token as string);
        expect(refreshed.refresh_token).toBeUndefined();
        expect((await client.refreshToken(tokens.refresh_token as string)).access_token).toBeTruthy();
        const limits = () => fetch(`${plain.url}/services/data/v${VERSION}/limits`, { headers: { authorization: `Bearer ${refreshed.access_token}` } });
        expect((await limits()).status).toBe(200);
        await new Promise((resolve) => setTimeout(resolve, 120));
        expect((await limits()).status).toBe(401);
      } finally {
        await plain.close();
      }
    });

    it('revokes refresh tokens with their access tokens, and rejects unknown tokens', async () => {
      const { client, verifier, code } = await authorize();
      const tokens = await client.requestToken(code, { code_verifier: verifier });
      await client.revokeToken(tokens.refresh_token as string);
      expect((await raw(tokens.access_token, '/limits')).status).toBe(401);
      await expect(client.refreshToken(tokens.refresh_token as string)).rejects.toMatchObject({ name: 'invalid_grant' });
      const unknown = await fetch(`${fake.url}/services/oauth2/revoke`, { method: 'POST', body: new URLSearchParams({ token: 'nope' }) });
      expect(unknown.status).toBe(400);
      expect(await unknown.json()).toEqual({ error: 'unsupported_token_type', error_description: 'this token type is not supported' });

      const other = fake.login();
      expect((await fetch(`${fake.url}/services/oauth2/revoke?token=${encodeURIComponent(other.access_token)}`)).status).toBe(200);
      expect((await raw(other.access_token, '/limits')).status).toBe(401);
    });

    it('revokeAll invalidates the org refresh tokens', async () => {
      const { orgId, tokens } = newOrg();
      fake.revokeAll(orgId);
      await expect(oauth2().refreshToken(tokens.refresh_token as string)).rejects.toMatchObject({ name: 'invalid_grant' });
    });
  });

  describe('REST API', () => {
    it('pages a 2,500-record query with queryMore and autoFetch, and counts', async () => {
      const { org, conn } = newOrg();
      org.insert('Contact', Array.from({ length: 2_500 }, (_, i) => ({ LastName: `Person ${i}`, Email: `p${i}@example.com` })));

      const first = await conn.query<{ Id: string; LastName: string }>('SELECT Id, LastName FROM Contact');
      expect(first).toMatchObject({ totalSize: 2_500, done: false });
      expect(first.records).toHaveLength(2_000);
      // jsforce answers the locator as a full URL; the fake's nextRecordsUrl is /services/data/v62.0/query/<cursor>-2000.
      expect(first.nextRecordsUrl).toMatch(new RegExp(`${fake.url}/services/data/v${VERSION}/query/01g[A-Za-z0-9]{15}-2000$`));
      expect(first.records[0]).toEqual({
        attributes: { type: 'Contact', url: `/services/data/v${VERSION}/sobjects/Contact/${first.records[0]?.Id}` },
        Id: first.records[0]?.Id,
        LastName: 'Person 0',
      });
      const rest = await conn.queryMore(first.nextRecordsUrl as string);
      expect(rest).toMatchObject({ totalSize: 2_500, done: true });
      expect(rest.records).toHaveLength(500);

      const all = await conn.query('SELECT Id FROM Contact', { autoFetch: true, maxFetch: 10_000 });
      expect(all.records).toHaveLength(2_500);
      expect(new Set(all.records.map((r) => r.Id)).size).toBe(2_500);

      const count = await conn.query("SELECT COUNT() FROM Contact WHERE Email LIKE 'p1%'");
      expect(count).toEqual({ totalSize: 1_111, done: true, records: [] });

      const small = await conn.request<any>({ method: 'GET', url: `/services/data/v${VERSION}/query?q=${encodeURIComponent('SELECT Id FROM Contact')}`, headers: { 'Sforce-Query-Options': 'batchSize=500' } });
      expect(small.records).toHaveLength(500);
      expect(small.nextRecordsUrl).toMatch(/-500$/);
    });

    it('filters by datetime with an Id tie-breaker, orders, and writes Salesforce value formats', async () => {
      const { org, conn } = newOrg();
      org.setClock('2024-05-01T10:00:00.000Z');
      const [a, b, c] = org.insert('Contact', [{ LastName: 'A' }, { LastName: 'B' }, { LastName: 'C' }]) as [string, string, string];
      org.setClock('2024-05-01T11:00:00.000Z');
      const [d] = org.insert('Contact', [
        { LastName: 'D', Birthdate: '1990-02-03', HasOptedOutOfEmail: true, Tags__c: 'VIP;Partner', Lifetime_Value__c: 12.5 },
      ]) as [string];
      expect(a.length).toBe(18);
      expect(a.startsWith('003')).toBe(true);
      expect([a, b, c, d].sort()).toEqual([a, b, c, d]);

      const soql = `SELECT Id, LastName, SystemModstamp FROM Contact WHERE SystemModstamp > 2024-05-01T10:00:00.000+0000 OR (SystemModstamp = 2024-05-01T10:00:00Z AND Id > '${a}') ORDER BY SystemModstamp, Id`;
      const page = await conn.query<{ Id: string; LastName: string; SystemModstamp: string }>(soql);
      expect(page.records.map((r) => r.LastName)).toEqual(['B', 'C', 'D']);
      expect(page.records[0]?.SystemModstamp).toBe('2024-05-01T10:00:00.000+0000');

      const [row] = (await conn.query<any>(`select id, birthdate, hasoptedoutofemail, tags__c, lifetime_value__c, email, createddate from contact where id = '${d}'`)).records;
      expect(row).toMatchObject({
        Id: d,
        Birthdate: '1990-02-03',
        HasOptedOutOfEmail: true,
        Tags__c: 'VIP;Partner',
        Lifetime_Value__c: 12.5,
        Email: null,
        CreatedDate: '2024-05-01T11:00:00.000+0000',
      });

      const desc = await conn.query<any>("SELECT LastName FROM Contact WHERE LastName IN ('A','C','D') AND NOT LastName = 'D' ORDER BY LastName DESC LIMIT 5");
      expect(desc.records.map((r: any) => r.LastName)).toEqual(['C', 'A']);

      // query excludes soft-deleted records, queryAll includes them.
      org.delete('Contact', a);
      expect((await conn.query('SELECT Id FROM Contact')).totalSize).toBe(3);
      expect((await conn.query('SELECT Id, IsDeleted FROM Contact', { scanAll: true })).totalSize).toBe(4);
    });

    it('answers SOQL errors with Salesforce codes', async () => {
      const { conn } = newOrg();
      await expect(conn.query('SELECT Foo FROM Contact')).rejects.toMatchObject({
        errorCode: 'INVALID_FIELD',
        message: expect.stringContaining("No such column 'Foo' on entity 'Contact'"),
      });
      await expect(conn.query('SELECT Id FROM Foo')).rejects.toMatchObject({
        errorCode: 'INVALID_TYPE',
        message: expect.stringContaining("sObject type 'Foo' is not supported"),
      });
      await expect(conn.query('SELECT Id FROM Contact WHERE')).rejects.toMatchObject({ errorCode: 'MALFORMED_QUERY' });
      await expect(conn.query("SELECT Id FROM Contact WHERE LastName = 'a' OR LastName = 'b' AND Email = null")).rejects.toMatchObject({ errorCode: 'MALFORMED_QUERY' });
      await expect(conn.query("SELECT Id FROM Contact WHERE SystemModstamp > '2024-01-01'")).rejects.toMatchObject({ errorCode: 'INVALID_FIELD' });
    });

    it('describes objects and the org', async () => {
      const { conn } = newOrg();
      const global = await conn.describeGlobal();
      expect(global.sobjects.map((s) => s.name)).toEqual(expect.arrayContaining(['Contact', 'Lead', 'Account']));
      expect(global.sobjects.find((s) => s.name === 'Lead')).toMatchObject({ keyPrefix: '00Q', queryable: true, createable: true });

      const contact = await conn.describe('Contact');
      const field = (name: string) => contact.fields.find((f) => f.name === name);
      expect(field('LastName')).toMatchObject({ type: 'string', length: 80, nillable: false, createable: true, defaultedOnCreate: false, soapType: 'xsd:string' });
      expect(field('Roster_Id__c')).toMatchObject({ externalId: true, unique: true, updateable: true, idLookup: true });
      expect(field('Legacy_Ref__c')).toMatchObject({ externalId: false, updateable: true });
      expect(field('Name_Formula__c')).toMatchObject({ createable: false, updateable: false });
      expect(field('SystemModstamp')).toMatchObject({ type: 'datetime', updateable: false });
      expect(field('Loyalty_Tier__c')?.picklistValues?.map((p) => p.value)).toEqual(['Gold', 'Silver', 'Bronze']);
      expect(field('HasOptedOutOfEmail')).toMatchObject({ type: 'boolean', defaultedOnCreate: true, nillable: false });
      expect(field('AccountId')).toMatchObject({ type: 'reference', referenceTo: ['Account'] });
      expect(contact.fields.find((f) => f.name === 'Email')).toMatchObject({ type: 'email' });

      await expect(conn.describe('Nope__c')).rejects.toMatchObject({ errorCode: 'NOT_FOUND' });
    });

    it('reports limits and Sforce-Limit-Info, and refuses requests once the quota is used up', async () => {
      const { org, conn, tokens } = newOrg();
      org.setApiUsage(10, 100);
      const limits = await conn.request<any>(`/services/data/v${VERSION}/limits`);
      expect(limits.DailyApiRequests).toEqual({ Max: 100, Remaining: 89 });
      expect(limits.DailyBulkV2QueryJobs).toMatchObject({ Max: expect.any(Number) });
      const res = await raw(tokens.access_token, '/sobjects');
      expect(res.headers.get('sforce-limit-info')).toBe('api-usage=12/100');

      org.setApiUsage(100, 100);
      const refused = await raw(tokens.access_token, '/limits');
      expect(refused.status).toBe(403);
      expect(await refused.json()).toEqual([{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]);
      await expect(conn.query('SELECT Id FROM Contact')).rejects.toMatchObject({ errorCode: 'REQUEST_LIMIT_EXCEEDED' });
      expect(org.apiUsage()).toEqual({ used: 100, max: 100 });
    });

    it('refreshes an expired session through jsforce refreshFn exactly once', async () => {
      const { client, verifier, code } = await authorize();
      const tokens = await client.requestToken(code, { code_verifier: verifier });
      let refreshToken = tokens.refresh_token as string;
      let refreshes = 0;
      const conn = new Connection({
        oauth2: client,
        instanceUrl: tokens.instance_url,
        accessToken: tokens.access_token,
        version: VERSION,
        refreshFn: (_conn, callback) => {
          refreshes++;
          client.refreshToken(refreshToken).then(
            (fresh) => {
              refreshToken = fresh.refresh_token as string;
              callback(null, fresh.access_token, fresh);
            },
            (err: Error) => callback(err),
          );
        },
      });
      fake.expireSessions(fake.defaultOrgId);
      const expired = await raw(tokens.access_token, '/limits');
      expect(expired.status).toBe(401);
      expect(await expired.json()).toEqual([{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]);
      await conn.query('SELECT Id FROM Contact LIMIT 1');
      await conn.query('SELECT Id FROM Contact LIMIT 1');
      expect(refreshes).toBe(1);
      expect(conn.accessToken).not.toBe(tokens.access_token);
    });

    it('answers injected faults, then normally again', async () => {
      const { conn, orgId, tokens } = newOrg();
      fake.injectFault({ method: 'GET', path: /\/query\?/, status: 503 });
      const unavailable = await raw(tokens.access_token, `/query?q=${encodeURIComponent('SELECT Id FROM Contact')}`);
      expect(unavailable.status).toBe(503);
      expect(await unavailable.json()).toEqual([{ message: 'Service Unavailable', errorCode: 'SERVER_UNAVAILABLE' }]);
      // jsforce retries a 5xx on its own: the fault answers once, then the fake answers normally.
      fake.injectFault({ method: 'GET', path: /\/query\?/, status: 503 });
      expect((await conn.query('SELECT Id FROM Contact')).done).toBe(true);
      fake.injectFault({ path: /\/limits$/, status: 400, body: [{ message: 'boom', errorCode: 'INVALID_OPERATION' }], headers: { 'x-fault': 'yes' } });
      await expect(conn.request(`/services/data/v${VERSION}/limits`)).rejects.toMatchObject({ errorCode: 'INVALID_OPERATION', message: 'boom' });
      await expect(conn.request(`/services/data/v${VERSION}/limits`)).resolves.toMatchObject({ DailyApiRequests: expect.any(Object) });
      expect(fake.requests.filter((r) => r.orgId === orgId).map((r) => r.status)).toEqual([503, 503, 200, 400, 200]);
      expect(fake.apiCalls(orgId)).toBe(5);
    });

    it('keeps two orgs isolated', async () => {
      const one = newOrg();
      const two = newOrg();
      const [id] = one.org.insert('Contact', [{ LastName: 'Only in one' }]) as [string];
      two.org.insert('Contact', [{ LastName: 'Two-a' }, { LastName: 'Two-b' }]);
      expect((await one.conn.query('SELECT Id FROM Contact')).totalSize).toBe(1);
      expect((await two.conn.query('SELECT Id FROM Contact')).totalSize).toBe(2);
      expect((await two.conn.query(`SELECT Id FROM Contact WHERE Id = '${id}'`)).totalSize).toBe(0);
      const update = await two.conn.sobject('Contact').update([{ Id: id, LastName: 'Hijack' }], { allOrNone: false });
      expect(update[0]).toMatchObject({ success: false });
      expect(one.org.find('Contact', id)).toMatchObject({ LastName: 'Only in one' });
      expect(fake.apiCalls(one.orgId)).toBe(1);
    });
  });

  describe('sObject Collections', () => {
    it('creates with per-record failures when allOrNone is false', async () => {
      const { org, conn } = newOrg();
      org.setClock('2024-06-01T00:00:00.000Z');
      const results = await conn.sobject('Contact').create(
        [
          { LastName: 'Lovelace', Email: 'ada@example.com', Birthdate: '1815-12-10', Tags__c: 'VIP;Newsletter' },
          { FirstName: 'No last name' },
          { LastName: 'Bad email', Email: 'not-an-email' },
          { LastName: 'x'.repeat(81) },
          { LastName: 'Formula', Name_Formula__c: 'nope' },
          { LastName: 'Unknown', Foo__c: 1 },
        ],
        { allOrNone: false },
      );
      expect(results[0]).toMatchObject({ success: true, errors: [] });
      expect(results[0]?.id).toMatch(/^003[A-Za-z0-9]{15}$/);
      expect(results[1]).toEqual({
        success: false,
        errors: [{ statusCode: 'REQUIRED_FIELD_MISSING', message: 'Required fields are missing: [LastName]', fields: ['LastName'] }],
      });
      expect(results.slice(2).map((r) => (r as any).errors[0].statusCode)).toEqual([
        'INVALID_EMAIL_ADDRESS',
        'STRING_TOO_LONG',
        'INVALID_FIELD_FOR_INSERT_UPDATE',
        'INVALID_FIELD',
      ]);
      const created = org.find('Contact', results[0]?.id as string);
      expect(created).toMatchObject({ LastName: 'Lovelace', Birthdate: '1815-12-10', HasOptedOutOfEmail: false, CreatedDate: '2024-06-01T00:00:00.000+0000', IsDeleted: false });
      expect(org.records('Contact')).toHaveLength(1);
    });

    it('rolls everything back when allOrNone is true', async () => {
      const { org, conn } = newOrg();
      const results = await conn.sobject('Contact').create([{ LastName: 'Fine' }, { FirstName: 'Missing' }], { allOrNone: true });
      expect(results.map((r) => (r as any).errors[0]?.statusCode)).toEqual(['ALL_OR_NONE_OPERATION_ROLLED_BACK', 'REQUIRED_FIELD_MISSING']);
      expect(org.records('Contact')).toHaveLength(0);
    });

    it('updates, upserts by external ID, and enforces unique values and injected failures', async () => {
      const { org, conn } = newOrg();
      org.setClock('2024-01-01T00:00:00.000Z');
      const [id, other] = org.insert('Contact', [
        { LastName: 'Old', Roster_Id__c: 'r-1' },
        { LastName: 'Other', Roster_Id__c: 'r-2' },
      ]) as [string, string];
      org.setClock('2024-01-02T00:00:00.000Z');
      const updated = await conn.sobject('Contact').update(
        [
          { Id: id, LastName: 'New', Email: null },
          { Id: other, Roster_Id__c: 'r-1' },
          { Id: '003000000000000AAA', LastName: 'Ghost' },
          { Id: id, CreatedDate: '2020-01-01T00:00:00Z' },
        ],
        { allOrNone: false },
      );
      expect(updated[0]).toEqual({ id, success: true, errors: [] });
      expect((updated[1] as any).errors[0].statusCode).toBe('DUPLICATE_VALUE');
      expect((updated[2] as any).errors[0].statusCode).toBe('INVALID_CROSS_REFERENCE_KEY');
      expect((updated[3] as any).errors[0].statusCode).toBe('INVALID_FIELD_FOR_INSERT_UPDATE');
      expect(org.find('Contact', id)).toMatchObject({ LastName: 'New', SystemModstamp: '2024-01-02T00:00:00.000+0000', CreatedDate: '2024-01-01T00:00:00.000+0000' });

      org.failWrites((object, record) => (object === 'Contact' && record.LastName === 'Blocked' ? { statusCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', message: 'Blocked by rule' } : undefined));
      const upserted = await conn.sobject('Contact').upsert(
        [
          { Roster_Id__c: 'r-2', LastName: 'Upserted' },
          { Roster_Id__c: 'r-3', LastName: 'Created' },
          { Roster_Id__c: 'r-4', LastName: 'Blocked' },
        ],
        'Roster_Id__c',
        { allOrNone: false },
      );
      expect(upserted[0]).toMatchObject({ id: other, success: true, created: false });
      expect(upserted[1]).toMatchObject({ success: true, created: true });
      expect((upserted[2] as any).errors[0]).toEqual({ statusCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', message: 'Blocked by rule', fields: [] });
      org.failWrites(undefined);
      await expect(conn.sobject('Contact').upsert([{ Legacy_Ref__c: 'x', LastName: 'L' }], 'Legacy_Ref__c', { allOrNone: false })).rejects.toMatchObject({
        errorCode: 'INVALID_FIELD',
      });
    });

    it('serves single-record create, retrieve, update and delete', async () => {
      const { org, conn } = newOrg();
      const created = await conn.sobject('Contact').create({ LastName: 'Single', Email: 'single@example.com' });
      expect(created).toMatchObject({ success: true, errors: [] });
      const id = (created as { id: string }).id;
      expect(await conn.sobject('Contact').retrieve(id)).toMatchObject({ Id: id, LastName: 'Single', attributes: { type: 'Contact' } });
      await conn.sobject('Contact').update({ Id: id, FirstName: 'Sam' });
      expect(org.find('Contact', id)).toMatchObject({ FirstName: 'Sam' });
      await expect(conn.sobject('Contact').create({ FirstName: 'Nope' })).rejects.toMatchObject({ errorCode: 'REQUIRED_FIELD_MISSING' });
      await conn.sobject('Contact').destroy(id);
      expect(org.find('Contact', id)).toMatchObject({ IsDeleted: true });
      await expect(conn.sobject('Contact').retrieve(id)).rejects.toMatchObject({ errorCode: 'NOT_FOUND' });
    });

    it('refuses more than 200 records', async () => {
      const { tokens } = newOrg();
      const body = { allOrNone: false, records: Array.from({ length: 201 }, (_, i) => ({ attributes: { type: 'Contact' }, LastName: `L${i}` })) };
      const res = await raw(tokens.access_token, '/composite/sobjects', { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(400);
      expect(((await res.json()) as any)[0].errorCode).toBe('EXCEEDED_ID_LIMIT');
    });
  });

  describe('Bulk API 2.0', () => {
    it('runs a query job over raw requests: states, snapshot, CSV pages with Sforce-Locator', async () => {
      const { org, tokens } = newOrg();
      org.insert(
        'Contact',
        Array.from({ length: 5 }, (_, i) => ({ LastName: i === 0 ? 'Say "hi", ok' : `L${i}`, Email: i === 1 ? null : `c${i}@example.com`, Lifetime_Value__c: 100, HasOptedOutOfEmail: i === 2 })),
      );
      const post = (path: string, body: unknown, method = 'POST'): Promise<{ status: number; json(): Promise<any> }> =>
        raw(tokens.access_token, path, { method, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

      const bad = await post('/jobs/query', { operation: 'query', query: 'SELECT Nope FROM Contact' });
      expect(bad.status).toBe(400);
      expect((await bad.json())[0].errorCode).toBe('INVALID_FIELD');

      const created = await (await post('/jobs/query', { operation: 'query', query: 'SELECT Id, LastName, Email, Lifetime_Value__c, HasOptedOutOfEmail, SystemModstamp FROM Contact ORDER BY Id' })).json();
      expect(created).toMatchObject({ operation: 'query', object: 'Contact', state: 'UploadComplete', contentType: 'CSV', lineEnding: 'LF', columnDelimiter: 'COMMA', apiVersion: 62 });
      expect(created.id).toMatch(/^750[A-Za-z0-9]{15}$/);
      // The results are a snapshot of the job's start.
      org.insert('Contact', [{ LastName: 'Too late' }]);

      const early = await raw(tokens.access_token, `/jobs/query/${created.id}/results`);
      expect(early.status).toBe(400);
      const states = [];
      for (let i = 0; i < 3; i++) states.push(((await (await raw(tokens.access_token, `/jobs/query/${created.id}`)).json()) as any).state);
      expect(states).toEqual(['InProgress', 'JobComplete', 'JobComplete']);

      const pages: string[] = [];
      let locator: string | null = null;
      const counts: string[] = [];
      do {
        const res = await raw(tokens.access_token, `/jobs/query/${created.id}/results?maxRecords=2${locator ? `&locator=${locator}` : ''}`);
        expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
        pages.push(await res.text());
        counts.push(res.headers.get('sforce-numberofrecords') as string);
        locator = res.headers.get('sforce-locator');
      } while (locator && locator !== 'null');
      expect(counts).toEqual(['2', '2', '1']);
      expect(pages[0]?.split('\n')[0]).toBe('"Id","LastName","Email","Lifetime_Value__c","HasOptedOutOfEmail","SystemModstamp"');
      expect(pages[0]).toContain('"Say ""hi"", ok"');
      const rows = pages.flatMap((p) => parse(p, { columns: true }) as Array<Record<string, string>>);
      expect(rows).toHaveLength(5);
      expect(rows[1]).toMatchObject({ Email: '', Lifetime_Value__c: '100.0', HasOptedOutOfEmail: 'false' });
      expect(rows[2]?.HasOptedOutOfEmail).toBe('true');
      expect(rows[0]?.SystemModstamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

      const aborted = await (await post('/jobs/query', { operation: 'query', query: 'SELECT Id FROM Contact' })).json();
      expect((await (await post(`/jobs/query/${aborted.id}`, { state: 'Aborted' }, 'PATCH')).json()).state).toBe('Aborted');
      expect((await raw(tokens.access_token, `/jobs/query/${aborted.id}`, { method: 'DELETE' })).status).toBe(204);
      expect((await raw(tokens.access_token, `/jobs/query/${aborted.id}`)).status).toBe(404);

      org.failNextQueryJob('Query timed out');
      const failing = await (await post('/jobs/query', { operation: 'query', query: 'SELECT Id FROM Contact' })).json();
      await raw(tokens.access_token, `/jobs/query/${failing.id}`);
      expect(await (await raw(tokens.access_token, `/jobs/query/${failing.id}`)).json()).toMatchObject({ state: 'Failed', errorMessage: 'Query timed out' });

      org.stallQueryJobs(true);
      const stalled = await (await post('/jobs/query', { operation: 'query', query: 'SELECT Id FROM Contact' })).json();
      for (let i = 0; i < 3; i++) await raw(tokens.access_token, `/jobs/query/${stalled.id}`);
      expect(org.jobs().query.find((j) => j.id === stalled.id)?.state).toBe('InProgress');
    });

    it('serves conn.bulk2.query', async () => {
      const { org, conn } = newOrg();
      org.insert('Contact', Array.from({ length: 300 }, (_, i) => ({ LastName: `Bulk ${i}` })));
      const stream = await conn.bulk2.query('SELECT Id, LastName FROM Contact', { pollInterval: 10, pollTimeout: 5_000 });
      const records: Array<Record<string, string>> = [];
      await new Promise<void>((resolve, reject) => {
        stream.on('record', (r: Record<string, string>) => records.push(r));
        stream.on('end', () => resolve());
        stream.on('error', reject);
      });
      expect(records).toHaveLength(300);
      expect(records[0]).toMatchObject({ LastName: 'Bulk 0' });
    });

    it('runs ingest jobs with conn.bulk2.loadAndWaitForResults, including failed results', async () => {
      const { org, conn } = newOrg();
      const [existing] = org.insert('Contact', [{ LastName: 'Existing', Email: 'keep@example.com', Phone: '555' }]) as [string];
      const inserted = await conn.bulk2.loadAndWaitForResults({
        object: 'Contact',
        operation: 'insert',
        input: [
          { FirstName: 'Ada', LastName: 'Lovelace', Email: 'ada@example.com' },
          { FirstName: 'Nameless', LastName: null, Email: 'x@example.com' },
          { FirstName: 'Grace', LastName: 'Hopper', Email: 'bad' },
        ],
        pollInterval: 10,
        pollTimeout: 5_000,
      });
      expect(inserted.successfulResults).toHaveLength(1);
      expect(inserted.successfulResults[0]).toMatchObject({ sf__Created: 'true', LastName: 'Lovelace' });
      expect(inserted.successfulResults[0]?.sf__Id).toMatch(/^003/);
      expect(inserted.failedResults.map((r) => r.sf__Error)).toEqual([
        'REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --',
        'INVALID_EMAIL_ADDRESS:Email: invalid email address: bad:Email --',
      ]);
      expect(inserted.failedResults[0]?.sf__Id).toBe('');
      expect(inserted.unprocessedRecords).toEqual([]);

      // Update: an empty cell leaves a field alone, #N/A (jsforce's null) clears it.
      const updated = await conn.bulk2.loadAndWaitForResults({
        object: 'Contact',
        operation: 'update',
        input: `Id,Email,Phone\n${existing},,#N/A\n`,
        pollInterval: 10,
        pollTimeout: 5_000,
      });
      expect(updated.successfulResults[0]).toMatchObject({ sf__Id: existing, sf__Created: 'false' });
      expect(org.find('Contact', existing)).toMatchObject({ Email: 'keep@example.com', Phone: null });

      const upserted = await conn.bulk2.loadAndWaitForResults({
        object: 'Contact',
        operation: 'upsert',
        externalIdFieldName: 'Roster_Id__c',
        input: 'Roster_Id__c,LastName\nr-9,Upserted\n',
        pollInterval: 10,
        pollTimeout: 5_000,
      });
      expect(upserted.successfulResults[0]).toMatchObject({ sf__Created: 'true', Roster_Id__c: 'r-9' });
    });

    it('fails ingest jobs with unknown columns, stalls and aborts them without applying rows', async () => {
      const { org, tokens } = newOrg();
      const call = (path: string, method: string, body: string, type = 'application/json'): Promise<{ status: number; json(): Promise<any> }> => raw(tokens.access_token, path, { method, body, headers: { 'content-type': type } });
      const open = async () => (await (await call('/jobs/ingest', 'POST', JSON.stringify({ object: 'Contact', operation: 'insert', lineEnding: 'LF' }))).json()).id as string;

      const badColumns = await open();
      expect((await call(`/jobs/ingest/${badColumns}/batches`, 'PUT', 'LastName,Nope\nA,b\n', 'text/csv')).status).toBe(201);
      expect((await call(`/jobs/ingest/${badColumns}/batches`, 'PUT', 'LastName\nB\n', 'text/csv')).status).toBe(400);
      await call(`/jobs/ingest/${badColumns}`, 'PATCH', JSON.stringify({ state: 'UploadComplete' }));
      await raw(tokens.access_token, `/jobs/ingest/${badColumns}`);
      expect(await (await raw(tokens.access_token, `/jobs/ingest/${badColumns}`)).json()).toMatchObject({ state: 'Failed', errorMessage: 'InvalidBatch : Field name not found : Nope' });

      org.stallIngestJobs(true);
      const stalled = await open();
      await call(`/jobs/ingest/${stalled}/batches`, 'PUT', 'LastName\nStalled\n', 'text/csv');
      const closed = await (await call(`/jobs/ingest/${stalled}`, 'PATCH', JSON.stringify({ state: 'UploadComplete' }))).json();
      expect(closed.state).toBe('UploadComplete');
      for (let i = 0; i < 3; i++) expect(((await (await raw(tokens.access_token, `/jobs/ingest/${stalled}`)).json()) as any).state).toBe('InProgress');
      expect((await (await call(`/jobs/ingest/${stalled}`, 'PATCH', JSON.stringify({ state: 'Aborted' }))).json()).state).toBe('Aborted');
      expect(await (await raw(tokens.access_token, `/jobs/ingest/${stalled}/unprocessedrecords/`)).text()).toBe('"LastName"\n"Stalled"\n');
      expect(org.records('Contact')).toHaveLength(0);
      expect((await raw(tokens.access_token, `/jobs/ingest/${stalled}`, { method: 'DELETE' })).status).toBe(204);
    });
  });
});
