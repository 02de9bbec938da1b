import { parse } from 'pg-connection-string';

/**
 * The connection URL a tenant gives, reduced to the parts Roster allows: host, port,
 * database, user, password and sslmode. Everything else a libpq URL can carry is refused,
 * because it would let a tenant steer the connection somewhere it should not go:
 * `host=/socket` (a Unix socket on the Lambda host), several hosts (`h1,h2`: the guard
 * would check one and pg might use another), `options=` (server settings such as
 * `-c default_transaction_read_only=off`), client certificates read from local files, …
 */
export type SslMode = 'disable' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
const SSL_MODES: readonly SslMode[] = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'];

export interface ConnectionParts {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  sslmode: SslMode;
}

export type ParsedConnectionUrl = { ok: true; parts: ConnectionParts } | { ok: false; message: string };

const ALLOWED_QUERY_PARAMETERS = new Set(['sslmode']);
/** libpq's connection parameters: only these names are quoted back in a refusal (anything else may be part of a password). */
const LIBPQ_PARAMETERS = new Set([
  'host', 'hostaddr', 'port', 'dbname', 'user', 'password', 'passfile', 'require_auth', 'channel_binding', 'connect_timeout',
  'client_encoding', 'options', 'application_name', 'fallback_application_name', 'keepalives', 'keepalives_idle',
  'keepalives_interval', 'keepalives_count', 'tcp_user_timeout', 'replication', 'gssencmode', 'sslnegotiation',
  'sslcompression', 'sslcert', 'sslkey', 'sslpassword', 'sslcertmode', 'sslrootcert', 'sslcrl', 'sslcrldir', 'sslsni',
  'requirepeer', 'ssl_min_protocol_version', 'ssl_max_protocol_version', 'krbsrvname', 'gsslib', 'gssdelegation',
  'service', 'target_session_attrs', 'load_balance_hosts', 'ssl', 'uselibpqcompat',
]);

/** Reads and checks a `postgres://` / `postgresql://` URL; messages never repeat the password. */
export function parseConnectionUrl(url: string): ParsedConnectionUrl {
  const fail = (message: string): ParsedConnectionUrl => ({ ok: false, message });
  const trimmed = url.trim();
  if (!/^postgres(ql)?:\/\//i.test(trimmed)) return fail('connectionUrl must start with postgresql:// or postgres://');
  // Checked on the raw text first: a socket path or a host list makes the URL unparsable as WHATWG, and deserves its own message.
  const authority = trimmed.slice(trimmed.indexOf('//') + 2).split(/[/?#]/, 1)[0] ?? '';
  const hostPart = authority.slice(authority.lastIndexOf('@') + 1);
  if (hostPart.includes(',')) return fail('connectionUrl names several hosts; give exactly one');
  const query = trimmed.includes('?') ? trimmed.slice(trimmed.indexOf('?') + 1).split('#', 1)[0]! : '';
  for (const name of new URLSearchParams(query).keys()) {
    if (ALLOWED_QUERY_PARAMETERS.has(name)) continue;
    // An unencoded `?` or `&` in a password starts a "parameter" here: never quote what may be a secret.
    if (!LIBPQ_PARAMETERS.has(name)) {
      return fail('connectionUrl has a parameter other than sslmode (if the password holds ?, &, # or /, percent-encode them: %3F, %26, %23, %2F)');
    }
    return fail(`connectionUrl parameter "${name}" is not allowed (only sslmode is; host, port, database, user and password go in the URL itself)`);
  }
  if (hostPart === '' || hostPart.startsWith(':')) return fail('connectionUrl has no host');
  let whatwg: URL;
  try {
    whatwg = new URL(trimmed);
  } catch {
    return fail('connectionUrl is not a valid URL (special characters in the password must be percent-encoded)');
  }
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(trimmed);
  } catch {
    return fail('connectionUrl could not be parsed');
  }
  const host = (parsed.host ?? '').trim();
  if (host === '') return fail('connectionUrl has no host');
  if (host.startsWith('/') || host.includes('%2F') || host.includes('%2f')) return fail('connectionUrl names a Unix socket; give a network host name or address');
  if (!/^[A-Za-z0-9.\-:[\]]+$/.test(host)) return fail('connectionUrl host may hold only letters, digits, ".", "-" and, for IPv6, ":" and brackets');
  const port = parsed.port ? Number(parsed.port) : 5432;
  if (!Number.isInteger(port) || port < 1 || port > 65535) return fail('connectionUrl port must be a number from 1 to 65535');
  const database = parsed.database ?? '';
  if (database === '') return fail('connectionUrl has no database name (postgresql://user:password@host:5432/<database>)');
  const user = parsed.user ?? '';
  if (user === '') return fail('connectionUrl has no user name');
  const sslmode = (whatwg.searchParams.get('sslmode') ?? 'prefer') as SslMode;
  if (!SSL_MODES.includes(sslmode)) return fail(`connectionUrl sslmode must be one of ${SSL_MODES.join(', ')}`);
  return { ok: true, parts: { host: host.replace(/^\[|\]$/g, ''), port, database, user, password: parsed.password ?? '', sslmode } };
}

/** The URL rebuilt from its allowed parts only (what Roster stores and connects with). */
export function buildConnectionUrl(parts: ConnectionParts): string {
  const host = parts.host.includes(':') ? `[${parts.host}]` : parts.host;
  const credentials = `${encodeURIComponent(parts.user)}${parts.password ? `:${encodeURIComponent(parts.password)}` : ''}`;
  const ssl = parts.sslmode === 'prefer' ? '' : `?sslmode=${parts.sslmode}`;
  return `postgresql://${credentials}@${host}:${parts.port}/${encodeURIComponent(parts.database)}${ssl}`;
}

/** What reads show: the password replaced by `****` (API.md). */
export function maskedConnectionUrl(parts: ConnectionParts): string {
  return buildConnectionUrl({ ...parts, password: parts.password ? '****' : '' }).replace('%2A%2A%2A%2A', '****');
}
