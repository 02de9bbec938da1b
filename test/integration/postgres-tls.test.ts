import selfsigned from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConnectionUrl } from '../../shared/integrations/postgres/connection-url.js';
import { PostgresConnectionError, ReadOnlySession } from '../../shared/integrations/postgres/read-only-session.js';
import { defaultSessionLimits } from '../../shared/integrations/postgres/session-limits.js';
import { startPostgres, type RunningPostgres } from '../support/postgres-server.js';

/**
 * TLS to a real PostgreSQL with a certificate for `localhost` signed by a test CA: with
 * `sslCa` the connection is verify-full (chain and host name); without one, `require`
 * encrypts without verifying (libpq's meaning).
 */
let pg: RunningPostgres;
let ca: string;
let otherCa: string;

const caExtensions = [
  { name: 'basicConstraints' as const, cA: true, critical: true },
  { name: 'keyUsage' as const, keyCertSign: true, digitalSignature: true, critical: true },
];

beforeAll(async () => {
  const authority = await selfsigned.generate([{ name: 'commonName', value: 'Roster Test CA' }], { keySize: 2048, algorithm: 'sha256', extensions: caExtensions });
  const other = await selfsigned.generate([{ name: 'commonName', value: 'Someone Else CA' }], { keySize: 2048, algorithm: 'sha256', extensions: caExtensions });
  const server = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    algorithm: 'sha256',
    ca: { key: authority.private, cert: authority.cert },
    extensions: [
      { name: 'basicConstraints' as const, cA: false },
      { name: 'keyUsage' as const, digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage' as const, serverAuth: true },
      { name: 'subjectAltName' as const, altNames: [{ type: 2 as const, value: 'localhost' }] },
    ],
  });
  ca = authority.cert;
  otherCa = other.cert;
  pg = await startPostgres({ tls: { cert: server.cert, key: server.private } });
}, 120_000);
afterAll(async () => pg?.stop());

async function connect(host: string, sslmode: string, sslCa?: string) {
  const parsed = parseConnectionUrl(`postgresql://postgres:${encodeURIComponent(pg.password)}@${host}:${pg.port}/postgres?sslmode=${sslmode}`);
  if (!parsed.ok) throw new Error(parsed.message);
  const session = await ReadOnlySession.open({ parts: parsed.parts, sslCa }, { ...defaultSessionLimits, allowPrivateHosts: true });
  try {
    const { rows } = await session.preview('SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()', [], 1);
    return rows[0];
  } finally {
    await session.close();
  }
}

const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error as PostgresConnectionError);

describe('TLS', () => {
  it('with the CA certificate: verify-full succeeds against the host name the certificate names, over TLS', async () => {
    expect(await connect('localhost', 'verify-full', ca)).toEqual([true, expect.stringMatching(/^TLSv1\.[23]$/)]);
  });

  it('refuses a server whose certificate another CA signed, and a host name the certificate does not name', async () => {
    const wrongCa = await failure(connect('localhost', 'verify-full', otherCa));
    expect(wrongCa).toBeInstanceOf(PostgresConnectionError);
    expect(wrongCa).toMatchObject({ reason: 'tls' });
    const wrongName = await failure(connect('127.0.0.1', 'prefer', ca));
    expect(wrongName).toMatchObject({ reason: 'tls', message: expect.stringMatching(/TLS: .*(IP|altnames|127\.0\.0\.1)/) });
    for (const error of [wrongCa, wrongName]) expect(String((error as Error).message)).not.toContain(pg.password);
  });

  it('without a CA: require encrypts without verifying; verify-full checks against the system CAs and refuses the test CA', async () => {
    expect(await connect('localhost', 'require')).toEqual([true, expect.any(String)]);
    expect(await failure(connect('localhost', 'verify-full'))).toMatchObject({ reason: 'tls', message: expect.stringMatching(/give the server’s CA certificate as sslCa/) });
  });
});
