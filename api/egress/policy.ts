// Where outgoing requests (webhook targets) may connect. In a multi-tenant server a URL chosen by a
// user is a server-side request forgery risk, so by default only public addresses are reachable:
// loopback, private, link-local (cloud metadata at 169.254.169.254), unique-local, multicast and the
// other special-purpose ranges are refused unless COFFER_EGRESS_ALLOW names the host or a CIDR.
// The check is made on the address actually connected to, inside undici's connector (after DNS
// resolution, so a name that resolves to 127.0.0.1 is refused like 127.0.0.1 itself: no
// DNS-rebinding bypass). Redirects are never followed (undici's request does not follow them), so
// there is no second address to check.
import dns from 'node:dns';
import net from 'node:net';
import { Agent, buildConnector } from 'undici';

/** Special-purpose ranges (RFC 6890 and friends) that are not the public internet. */
const REFUSED_V4 = [
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.0.0.0/24',
  '192.0.2.0/24', '192.88.99.0/24', '192.168.0.0/16', '198.18.0.0/15', '198.51.100.0/24', '203.0.113.0/24', '224.0.0.0/4', '240.0.0.0/4',
];
const REFUSED_V6 = ['::/128', '::1/128', '64:ff9b::/96', '100::/64', '2001:db8::/32', 'fc00::/7', 'fe80::/10', 'ff00::/8'];

export class EgressRefusedError extends Error {
  readonly code = 'egress_refused';
  constructor(host: string, address: string) {
    super(`egress to ${host} (${address}) is refused: not a public address; an operator can allow it with COFFER_EGRESS_ALLOW`);
  }
}

export interface EgressPolicy {
  /** Whether `host` (the URL's host name) may be reached at `address` (what it resolved to). */
  allows(host: string, address: string): boolean;
  /** An undici dispatcher that connects only where `allows` says yes. */
  dispatcher: Agent;
}

/** `allow`: host names (exact, case-insensitive) and CIDRs or single addresses, as in COFFER_EGRESS_ALLOW. */
export function createEgressPolicy(allow: string[]): EgressPolicy {
  const refused = new net.BlockList();
  for (const c of REFUSED_V4) { const [a, p] = c.split('/'); refused.addSubnet(a, Number(p), 'ipv4'); }
  for (const c of REFUSED_V6) { const [a, p] = c.split('/'); refused.addSubnet(a, Number(p), 'ipv6'); }
  const allowed = new net.BlockList();
  const allowedHosts = new Set<string>();
  for (const raw of allow.map((s) => s.trim()).filter(Boolean)) {
    const [a, p] = raw.split('/');
    const family = net.isIP(a);
    if (family === 0) { allowedHosts.add(raw.toLowerCase()); continue; }
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (p === undefined) allowed.addAddress(a, type);
    else allowed.addSubnet(a, Number(p), type);
  }

  function allows(host: string, address: string): boolean {
    const family = net.isIP(address);
    if (family === 0) return false;
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (allowedHosts.has(host.toLowerCase()) || allowed.check(address, type)) return true;
    // An IPv4-mapped IPv6 address is judged as the IPv4 address it carries (net.BlockList also
    // matches IPv4 rules against ::ffff:a.b.c.d, which is why ::ffff:0:0/96 is not listed above).
    const mapped = type === 'ipv6' ? /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1] : undefined;
    if (mapped) return allows(host, mapped);
    return !refused.check(address, type);
  }

  // Names are resolved by our lookup, which refuses before any connection is attempted; address
  // literals never reach a lookup, so they are checked before the connector is called.
  const lookup: net.LookupFunction = (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as dns.LookupAddress[];
      const bad = list.find((a) => !allows(hostname, a.address));
      if (bad) return callback(new EgressRefusedError(hostname, bad.address) as unknown as NodeJS.ErrnoException, '', 0);
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
      callback(null, list[0].address, list[0].family);
    });
  };
  const base = buildConnector({ lookup } as buildConnector.BuildOptions);
  const connect: buildConnector.connector = (opts, callback) => {
    const host = opts.hostname.replace(/^\[|\]$/g, '');
    if (net.isIP(host) && !allows(host, host)) return callback(new EgressRefusedError(host, host), null);
    return base(opts, callback);
  };
  return { allows, dispatcher: new Agent({ connect }) };
}
