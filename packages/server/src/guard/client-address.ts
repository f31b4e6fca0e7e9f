/**
 * What counts as one client for per-source limits. An IPv4 address is one source. An IPv6 address is grouped by its
 * /64: a single subscriber usually holds a whole /64 (SLAAC, privacy addresses), so counting full addresses would
 * give one attacker 2^64 fresh sources. An IPv4-mapped IPv6 address (::ffff:192.0.2.1) is its IPv4 address.
 */
import ipaddr from 'ipaddr.js';

/** The limiter key of a client address: the IPv4 address, or the IPv6 /64 prefix (`2001:db8:1:2::/64`). */
export function sourceKey(address: string): string {
  if (!address.includes(':')) return address;
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    ip = ipaddr.parse(address.replace(/%.*$/, ''));
  } catch {
    return address;
  }
  if (ip.kind() === 'ipv4') return ip.toString();
  const v6 = ip as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString();
  return `${v6.parts.slice(0, 4).map((p) => p.toString(16)).join(':')}::/64`;
}
