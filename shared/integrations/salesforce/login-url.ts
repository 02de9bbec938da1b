/**
 * Which Salesforce login servers (and instance URLs) Roster talks to. Deployed: HTTPS on
 * Salesforce's own domains only — production `login.salesforce.com`, sandboxes
 * `test.salesforce.com`, and My Domain URLs (`acme.my.salesforce.com`,
 * `acme--uat.sandbox.my.salesforce.com`, …) — so a tenant cannot point Roster's OAuth client
 * secret, or its runs, at a server of its own. With private hosts allowed (the local stack),
 * loopback over HTTP is accepted too, for the fake Salesforce.
 */
export const DEFAULT_LOGIN_URL = 'https://login.salesforce.com';

const SALESFORCE_HOST = /^(?:login|test)\.salesforce\.com$|^[a-z0-9-]+(?:--[a-z0-9-]+)?(?:\.(?:sandbox|develop|scratch|demo|trailblaze|patch))?\.my\.salesforce\.com$/;
/** Instances answer on these too (`na1.salesforce.com`, `acme.lightning.force.com` is not an API host, but `*.my.salesforce.com` is). */
const INSTANCE_HOST = /^[a-z0-9-]+(?:--[a-z0-9-]+)?(?:\.[a-z0-9-]+)*\.(?:salesforce|force)\.com$/;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export type UrlCheck = { ok: true; url: string } | { ok: false; message: string };

function parse(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

function check(text: string, hostRule: RegExp, what: string, allowLoopback: boolean): UrlCheck {
  const url = parse(text);
  if (!url) return { ok: false, message: `${what} is not a URL` };
  if (url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
    return { ok: false, message: `${what} must be just the scheme and host (e.g. ${DEFAULT_LOGIN_URL})` };
  }
  const host = url.hostname.toLowerCase();
  if (allowLoopback && LOOPBACK.has(host) && (url.protocol === 'http:' || url.protocol === 'https:')) return { ok: true, url: url.origin };
  if (url.protocol !== 'https:') return { ok: false, message: `${what} must use https` };
  if (url.port && url.port !== '443') return { ok: false, message: `${what} must not name a port` };
  if (!hostRule.test(host)) {
    return { ok: false, message: `${what} must be https://login.salesforce.com, https://test.salesforce.com or a My Domain URL (https://<domain>.my.salesforce.com)` };
  }
  return { ok: true, url: url.origin };
}

export const checkLoginUrl = (text: string, allowLoopback: boolean) => check(text, SALESFORCE_HOST, 'loginUrl', allowLoopback);

/** The `instance_url` Salesforce answers with: a Salesforce host (or loopback locally); anything else is refused. */
export const checkInstanceUrl = (text: string, allowLoopback: boolean) => check(text, INSTANCE_HOST, 'the instance URL', allowLoopback);
