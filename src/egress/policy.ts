/**
 * Egress policy for URLs that users supply (web push endpoints today): may Herald call it?
 *
 * Statically (checkUrl, no I/O): the URL parses; `https:` only; no userinfo; the host is a
 * name, never an IP literal in any spelling (WHATWG URL has already turned `127.1`,
 * `2130706433`, `0x7f.1` and `0177.0.0.1` into dotted IPv4 and brackets IPv6); and, when an
 * allow-list is set, the host is one of its suffixes. By address (addressAllowed): only what
 * ipaddr.js classifies as `unicast` — loopback, private, link-local, CGNAT, unique-local,
 * multicast, broadcast, unspecified, IPv4-mapped, reserved/documentation and the other special
 * ranges are refused — and IPv4-compatible IPv6 (`::a.b.c.d`, which ipaddr.js calls unicast).
 *
 * `allowPrivate` (HERALD_WEBPUSH_ALLOW_PRIVATE, for development and tests only) lifts the IP
 * literal and address checks and allows `http:` to loopback (a loopback literal or a
 * `localhost` name resolving to loopback only: push-service emulators speak plain HTTP);
 * userinfo and the allow-list still apply.
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

export interface EgressPolicy {
  /** Lift the address and IP literal checks; allow http: to loopback. Development and tests only. */
  allowPrivate: boolean;
  /** Host suffixes a URL's host must match (`example.com` matches it and `*.example.com`); empty: any host. */
  allowedHosts: readonly string[];
}

export const STRICT_EGRESS: EgressPolicy = { allowPrivate: false, allowedHosts: [] };

/** Why a URL is refused: stable codes, safe to show to the user who supplied it. */
export type EgressRefusal =
  | 'invalid-url'
  | 'scheme-not-allowed'
  | 'userinfo-not-allowed'
  | 'ip-literal-not-allowed'
  | 'host-not-allowed'
  | 'address-not-allowed'
  | 'unresolvable';

export const REFUSAL_MESSAGES: Record<EgressRefusal, string> = {
  'invalid-url': 'must be a URL',
  'scheme-not-allowed': 'must be an https URL',
  'userinfo-not-allowed': 'must not carry a user name or password',
  'ip-literal-not-allowed': 'must name a host, not an IP address',
  'host-not-allowed': 'is not a push service this server sends to',
  'address-not-allowed': 'resolves to an address this server does not call (loopback, private or reserved)',
  unresolvable: 'has a host name that does not resolve',
};

export type UrlCheck =
  | {
      ok: true;
      url: URL /** hostname without brackets or a trailing dot, lower case */;
      host: string /** plain http: (allowPrivate only) — every address must then be loopback */;
      plain: boolean;
    }
  | { ok: false; refusal: EgressRefusal };

/** Parses a comma-separated allow-list setting into lower-case suffixes without leading dots. */
export function parseAllowedHosts(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((entry) => entry.trim().toLowerCase().replace(/^\.+/, '').replace(/\.$/, ''))
    .filter((entry) => entry !== '');
}

const bare = (hostname: string): string =>
  hostname
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '')
    .toLowerCase();

export const hostAllowed = (host: string, policy: EgressPolicy): boolean =>
  policy.allowedHosts.length === 0 || policy.allowedHosts.some((suffix) => host === suffix || host.endsWith(`.${suffix}`));

/** The checks that need no DNS. */
export function checkUrl(text: string, policy: EgressPolicy): UrlCheck {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, refusal: 'invalid-url' };
  }
  const host = bare(url.hostname);
  if (url.username !== '' || url.password !== '') return { ok: false, refusal: 'userinfo-not-allowed' };
  const plain = url.protocol === 'http:';
  if (url.protocol !== 'https:' && !(plain && policy.allowPrivate)) return { ok: false, refusal: 'scheme-not-allowed' };
  if (host === '') return { ok: false, refusal: 'invalid-url' };
  const literal = isIP(host) !== 0;
  if (literal && !policy.allowPrivate) return { ok: false, refusal: 'ip-literal-not-allowed' };
  if (!hostAllowed(host, policy)) return { ok: false, refusal: 'host-not-allowed' };
  // http: only to loopback: a loopback literal, or `localhost` / `*.localhost` (RFC 6761), whose addresses must be loopback too.
  if (plain && !(literal ? isLoopback(host) : host === 'localhost' || host.endsWith('.localhost'))) return { ok: false, refusal: 'scheme-not-allowed' };
  return { ok: true, url, host, plain };
}

const parse = (address: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined => {
  try {
    return ipaddr.parse(bare(address));
  } catch {
    return undefined;
  }
};

const IPV4_COMPATIBLE: [ipaddr.IPv6, number] = [ipaddr.IPv6.parse('::'), 96];

/** A public unicast address (ipaddr.js range `unicast`, and not IPv4-compatible IPv6). */
export function isPublicAddress(address: string): boolean {
  const parsed = parse(address);
  if (parsed === undefined || parsed.range() !== 'unicast') return false;
  return !(parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).match(IPV4_COMPATIBLE));
}

export function isLoopback(address: string): boolean {
  const parsed = parse(address);
  if (parsed === undefined) return false;
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) return (parsed as ipaddr.IPv6).toIPv4Address().range() === 'loopback';
  return parsed.range() === 'loopback';
}

/** May Herald connect to `address` for a URL that passed checkUrl (`plain`: it was http:)? */
export function addressAllowed(address: string, policy: EgressPolicy, plain = false): boolean {
  if (plain) return policy.allowPrivate && isLoopback(address);
  return policy.allowPrivate || isPublicAddress(address);
}
