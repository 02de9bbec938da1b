import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * The SSRF guard of outbound database connections. Deployed, a tenant-supplied host may
 * not lead into Roster's own network or AWS's: the host name is resolved ONCE, every
 * address it resolves to is checked, and the connection then goes to that exact address
 * (the TLS server name stays the host name), so a DNS answer that changes between the
 * check and the connect (rebinding) cannot bypass it. Every refusal reads the same as an
 * unreachable host, so the guard cannot be used to map which addresses exist.
 */
const blocked = new BlockList();
// IPv4: "this network", loopback, RFC 1918, carrier-grade NAT, link-local (with the
// instance metadata address 169.254.169.254), IETF protocol assignments, TEST-NETs,
// benchmarking, multicast and reserved, broadcast.
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(network, prefix, 'ipv4');
}
// IPv6: unspecified, loopback, NAT64/discard/documentation, unique local (fc00::/7),
// link-local (fe80::/10), site-local (deprecated), multicast (ff00::/8).
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const) {
  blocked.addSubnet(network, prefix, 'ipv6');
}

/** The IPv4 address an IPv6 address carries (IPv4-mapped `::ffff:a.b.c.d` / `::ffff:7f00:1`, IPv4-compatible `::a.b.c.d`), if any. */
function embeddedIpv4(address: string): string | undefined {
  const lower = address.toLowerCase();
  const dotted = /^(?:0{0,4}:){0,5}(?:ffff:)?(\d{1,3}(?:\.\d{1,3}){3})$/.exec(lower.replace(/^::/, '0:'));
  if (dotted && (lower.startsWith('::') || lower.includes('ffff'))) return dotted[1];
  const hex = /^(?:0{0,4}:){0,4}(?::)?(?:0{0,4}:)?ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex) {
    const high = Number.parseInt(hex[1]!, 16);
    const low = Number.parseInt(hex[2]!, 16);
    return [high >> 8, high & 255, low >> 8, low & 255].join('.');
  }
  return undefined;
}

/** Whether an address (v4 or v6 text) is one a tenant's database may not resolve to. */
export function isForbiddenAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family !== 6) return true;
  const v4 = embeddedIpv4(address);
  if (v4 !== undefined && isIP(v4) === 4) return blocked.check(v4, 'ipv4');
  return blocked.check(address, 'ipv6');
}

/** Raised for every host Roster will not or cannot connect to; one message for all causes. */
export class UnreachableHostError extends Error {
  override readonly name = 'UnreachableHostError';
  constructor(host: string, port: number) {
    super(`could not connect to the database server at ${host}:${port} (the host does not resolve, refuses or drops connections, or is not reachable from Roster)`);
  }
}

export type Resolver = (host: string) => Promise<string[]>;

const systemResolver: Resolver = async (host) => (await lookup(host, { all: true, verbatim: true })).map((entry) => entry.address);

/**
 * The one address to connect to: the host's first resolved address, after checking that
 * none of its addresses is forbidden (unless private hosts are allowed, as on the local stack).
 */
export async function resolveAllowedAddress(host: string, port: number, options: { allowPrivate: boolean; resolve?: Resolver }): Promise<string> {
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : await (options.resolve ?? systemResolver)(host);
  } catch {
    throw new UnreachableHostError(host, port);
  }
  if (addresses.length === 0) throw new UnreachableHostError(host, port);
  if (!options.allowPrivate && addresses.some(isForbiddenAddress)) throw new UnreachableHostError(host, port);
  return addresses[0]!;
}
