import { describe, expect, it } from 'vitest';
import { buildConnectionUrl, maskedConnectionUrl, parseConnectionUrl } from '../../shared/integrations/postgres/connection-url.js';
import { isForbiddenAddress, resolveAllowedAddress, UnreachableHostError } from '../../shared/integrations/postgres/network-guard.js';
import { changesWhatIsRead, putPostgresSettingsBody, resolveConnection, toStoredSettings } from '../../shared/integrations/postgres/postgres-settings.js';
import { checkQuery } from '../../shared/integrations/postgres/query-guard.js';

describe('connection URL', () => {
  it('keeps host, port, database, user, password and sslmode, and rebuilds the URL from them alone', () => {
    const parsed = parseConnectionUrl('postgresql://reader:p%40ss%2Fw0rd@db.example.com:6543/app?sslmode=verify-full');
    expect(parsed).toEqual({ ok: true, parts: { host: 'db.example.com', port: 6543, database: 'app', user: 'reader', password: 'p@ss/w0rd', sslmode: 'verify-full' } });
    if (!parsed.ok) return;
    expect(buildConnectionUrl(parsed.parts)).toBe('postgresql://reader:p%40ss%2Fw0rd@db.example.com:6543/app?sslmode=verify-full');
    expect(maskedConnectionUrl(parsed.parts)).toBe('postgresql://reader:****@db.example.com:6543/app?sslmode=verify-full');
    expect(parseConnectionUrl('postgres://u:p@[2001:db8::1]/d')).toMatchObject({ ok: true, parts: { host: '2001:db8::1', port: 5432, sslmode: 'prefer' } });
  });

  it.each([
    ['postgresql://u:p@/db?host=/var/run/postgresql', /parameter "host" is not allowed/],
    // An unencoded ? or & in the password: what follows is not quoted back (it may be the password).
    ['postgresql://u:p?Zebra-9931@db.example.com/db', /a parameter other than sslmode \(if the password holds \?/],
    ['postgresql://u:p@db.example.com/db?sslmode=require&Zebra-9931=1', /a parameter other than sslmode/],
    ['postgresql://u:p@%2Fvar%2Frun%2Fpostgresql/db', /Unix socket|host may hold only/],
    ['postgresql://u:p@h1:5432,h2:5432/db', /several hosts/],
    ['postgresql://u:p@db.example.com/db?options=-c%20default_transaction_read_only%3Doff', /parameter "options" is not allowed/],
    ['postgresql://u:p@db.example.com/db?sslcert=/etc/passwd', /parameter "sslcert" is not allowed/],
    ['postgresql://u:p@db.example.com/db?sslmode=allow-everything', /sslmode must be one of/],
    ['postgresql://u:p@db.example.com:99999/db', /port|not a valid URL/],
    ['postgresql://u:p@db.example.com/', /no database name/],
    ['postgresql://db.example.com/db', /no user name/],
    ['mysql://u:p@db.example.com/db', /must start with postgresql:\/\//],
    ['postgresql://u:p@:5432/db', /no host/],
  ])('refuses %s', (url, message) => {
    const parsed = parseConnectionUrl(url);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.message).toMatch(message);
    expect(parsed.message).not.toContain('u:p');
    expect(parsed.message).not.toContain('Zebra');
  });
});

describe('query guard (libpg_query)', () => {
  it('accepts one SELECT or WITH … SELECT, binds $LAST_SYNC_TIMESTAMP as a typed parameter outside literals and comments, drops a trailing ;', async () => {
    expect(await checkQuery('WITH recent AS (SELECT * FROM users) SELECT email FROM recent;  ')).toEqual({ ok: true, sql: 'WITH recent AS (SELECT * FROM users) SELECT email FROM recent', usesLastSync: false });
    const bound = await checkQuery(`SELECT email, '$LAST_SYNC_TIMESTAMP' AS literal, "$LAST_SYNC_TIMESTAMP" FROM t /* $LAST_SYNC_TIMESTAMP */ WHERE updated_at >= $LAST_SYNC_TIMESTAMP`);
    expect(bound).toEqual({
      ok: true,
      sql: `SELECT email, '$LAST_SYNC_TIMESTAMP' AS literal, "$LAST_SYNC_TIMESTAMP" FROM t /* $LAST_SYNC_TIMESTAMP */ WHERE updated_at >= $1::timestamptz`,
      usesLastSync: true,
    });
    expect(await checkQuery(`SELECT $$ $LAST_SYNC_TIMESTAMP $$ AS email`)).toMatchObject({ ok: true, usesLastSync: false });
  });

  it.each([
    ['', /empty/],
    ['DELETE FROM users', /must be a SELECT.*a DELETE statement/],
    ['UPDATE users SET a = 1', /a UPDATE statement/],
    ['INSERT INTO users VALUES (1)', /a INSERT statement/],
    ['DROP TABLE users', /a DROP statement/],
    ['CREATE TABLE x AS SELECT 1', /CREATE TABLE AS|statement/],
    ['TRUNCATE users', /a TRUNCATE statement/],
    ['COPY users TO STDOUT', /a COPY statement/],
    ['SET search_path = evil', /a VARIABLE SET statement/],
    ['SELECT 1; DROP TABLE users', /exactly one statement; it has 2/],
    ['SELECT 1; SELECT 2', /exactly one statement; it has 2/],
    ['WITH d AS (DELETE FROM users RETURNING *) SELECT * FROM d', /may only read: it contains DELETE/],
    ['WITH u AS (UPDATE users SET a = 1 RETURNING *) SELECT * FROM u', /contains UPDATE/],
    ['WITH i AS (INSERT INTO users VALUES (1) RETURNING *) SELECT * FROM i', /contains INSERT/],
    ['SELECT * INTO copy FROM users', /SELECT … INTO/],
    ['SELECT * FROM users FOR UPDATE', /FOR UPDATE \/ FOR SHARE/],
    ['SELECT * FROM users FOR SHARE SKIP LOCKED', /FOR UPDATE \/ FOR SHARE/],
    ['SELECT email FROM users WHERE id = $1', /positional parameters/],
    ['SELECT email FROM users WHERE', /not valid SQL: syntax error at end of input \(at character \d+\)/],
  ])('refuses %j', async (query, message) => {
    // Only PostgreSQL's parser refusing the text is a syntax error (preview: 422); the rest are Roster's rules (400).
    const kind = String(message).includes('not valid SQL') ? 'syntax' : 'rule';
    expect(await checkQuery(query)).toEqual({ ok: false, kind, message: expect.stringMatching(message) });
  });
});

describe('network guard', () => {
  it.each([
    '127.0.0.1', '127.255.0.9', '0.0.0.0', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '100.64.0.1', '169.254.169.254', '169.254.0.1',
    '224.0.0.1', '255.255.255.255', '::1', '::', 'fc00::1', 'fd12:3456::1', 'fe80::1', 'ff02::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:a9fe:a9fe',
    '::127.0.0.1', '0:0:0:0:0:ffff:10.0.0.1', '64:ff9b::7f00:1',
  ])('refuses %s', (address) => {
    expect(isForbiddenAddress(address)).toBe(true);
  });

  it.each(['8.8.8.8', '172.32.0.1', '100.128.0.1', '192.169.0.1', '2606:4700::1111', '::ffff:8.8.8.8'])('allows the public address %s', (address) => {
    expect(isForbiddenAddress(address)).toBe(false);
  });

  it('checks every address a name resolves to, connects to the first, and fails uniformly', async () => {
    const resolve = async (host: string) => ({ public: ['203.0.114.7'], mixed: ['203.0.114.7', '10.0.0.5'], rebinding: ['169.254.169.254'] })[host] ?? [];
    expect(await resolveAllowedAddress('public', 5432, { allowPrivate: false, resolve })).toBe('203.0.114.7');
    const messages = await Promise.all(
      ['mixed', 'rebinding', 'nowhere'].map((host) => resolveAllowedAddress(host, 5432, { allowPrivate: false, resolve }).catch((error: Error) => error)),
    );
    const hosts = ['mixed', 'rebinding', 'nowhere'];
    for (const [index, error] of messages.entries()) {
      expect(error).toBeInstanceOf(UnreachableHostError);
      expect((error as Error).message).toMatch(new RegExp(`^could not connect to the database server at ${hosts[index]}:5432`));
    }
    // Forbidden, private and unresolvable read alike (but for the host name).
    expect(new Set(messages.map((error, index) => (error as Error).message.replace(hosts[index]!, 'HOST'))).size).toBe(1);
    // Locally (the local stack, tests) private hosts are allowed.
    expect(await resolveAllowedAddress('mixed', 5432, { allowPrivate: true, resolve })).toBe('203.0.114.7');
  });

  it('numeric spellings of loopback are resolved by the system first, then refused', async () => {
    for (const host of ['127.1', '2130706433', '0x7f000001', '0177.0.0.1', 'localhost']) {
      await expect(resolveAllowedAddress(host, 5432, { allowPrivate: false })).rejects.toBeInstanceOf(UnreachableHostError);
    }
  });
});

describe('settings', () => {
  const body = putPostgresSettingsBody.parse({ connectionUrl: 'postgresql://u:pw@db.example.com/app', query: 'SELECT email FROM t', enabled: true });
  const parts = (url: string) => {
    const parsed = parseConnectionUrl(url);
    if (!parsed.ok) throw new Error(parsed.message);
    return parsed.parts;
  };

  it('a masked or omitted URL keeps the saved password, only for the saved host, port, database and user; without a saved one it is an error', () => {
    const saved = parts('postgresql://u:saved-pw@db.example.com/app');
    expect(resolveConnection(undefined, saved)).toEqual({ parts: saved });
    expect(resolveConnection('postgresql://u:****@db.example.com:5432/app?sslmode=require', saved)).toEqual({ parts: { ...saved, sslmode: 'require' } });
    // `****` pointed anywhere else would hand the saved password to that server.
    for (const elsewhere of ['postgresql://u:****@db2.example.com/app', 'postgresql://u:****@db.example.com:6543/app', 'postgresql://u:****@db.example.com/other', 'postgresql://v:****@db.example.com/app']) {
      expect(resolveConnection(elsewhere, saved)).toEqual({ missing: expect.stringMatching(/only with the saved host, port, database and user/) });
    }
    // Nor over a weaker channel than the saved one.
    const verified = parts('postgresql://u:saved-pw@db.example.com/app?sslmode=verify-full');
    for (const weaker of ['disable', 'prefer', 'require', 'verify-ca']) {
      expect(resolveConnection(`postgresql://u:****@db.example.com/app?sslmode=${weaker}`, verified)).toEqual({ missing: expect.stringMatching(/weaker than the saved sslmode=verify-full/) });
    }
    expect(resolveConnection('postgresql://u:****@db.example.com/app?sslmode=verify-full', verified)).toEqual({ parts: verified });
    expect(resolveConnection(undefined, undefined)).toEqual({ missing: expect.stringMatching(/connectionUrl is required/) });
    expect(resolveConnection('postgresql://u:****@db.example.com/app', undefined)).toEqual({ missing: expect.stringMatching(/masked password/) });
  });

  it('a change of query, mapping, idColumn, schema or database resets the watermark; a schedule or mode change does not', () => {
    const before = toStoredSettings(body, parts('postgresql://u:pw@db.example.com/app'), false);
    const same = (change: object, url = 'postgresql://u:pw@db.example.com/app') => changesWhatIsRead(before, toStoredSettings({ ...body, ...change }, parts(url), false));
    expect(same({ schedule: 'cron(0 3 * * ? *)', mode: 'update_only', enabled: false })).toBe(false);
    expect(same({}, 'postgresql://u:new-password@db.example.com/app')).toBe(false);
    expect(same({ query: 'SELECT email, plan FROM t' })).toBe(true);
    expect(same({ mapping: { plan: 'plan' } })).toBe(true);
    expect(same({ idColumn: 'id' })).toBe(true);
    expect(same({ schema: 'crm' })).toBe(true);
    expect(same({}, 'postgresql://u:pw@db.example.com/other')).toBe(true);
    expect(changesWhatIsRead(undefined, before)).toBe(true);
  });
});
