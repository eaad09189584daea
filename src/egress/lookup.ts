/**
 * The DNS half of the egress policy (policy.ts).
 *  - checkEndpoint: at registration — the static checks, then every address the host resolves
 *    to must be allowed (one disallowed address refuses the URL); a name that does not resolve
 *    is refused as `unresolvable`.
 *  - guardedLookup: at connect time — a `lookup` for an http(s).Agent that resolves the host
 *    again and fails the connection (error code ERR_HERALD_EGRESS_REFUSED) when any address is
 *    not allowed, so a name that passed registration and now resolves to loopback (DNS
 *    rebinding) is never connected to. Node skips `lookup` for IP literals: callers run
 *    checkUrl before each request for those.
 */

import type { LookupAddress, LookupOptions } from 'node:dns';
import dns from 'node:dns';
import { isIP } from 'node:net';
import { addressAllowed, checkUrl, type EgressPolicy, type EgressRefusal } from './policy.js';

/** Every address of `host` (family 0: both). */
export type Resolver = (host: string, family: 0 | 4 | 6) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (host, family) => dns.promises.lookup(host, { all: true, family, verbatim: true });

export const EGRESS_REFUSED = 'ERR_HERALD_EGRESS_REFUSED';

export type EndpointCheck = { ok: true } | { ok: false; refusal: EgressRefusal };

export async function checkEndpoint(text: string, policy: EgressPolicy, resolver: Resolver = systemResolver): Promise<EndpointCheck> {
  const checked = checkUrl(text, policy);
  if (!checked.ok) return checked;
  if (isIP(checked.host) !== 0) {
    return addressAllowed(checked.host, policy, checked.plain) ? { ok: true } : { ok: false, refusal: 'address-not-allowed' };
  }
  let addresses: LookupAddress[];
  try {
    addresses = await resolver(checked.host, 0);
  } catch {
    return { ok: false, refusal: 'unresolvable' };
  }
  if (addresses.length === 0) return { ok: false, refusal: 'unresolvable' };
  return addresses.every((a) => addressAllowed(a.address, policy, checked.plain)) ? { ok: true } : { ok: false, refusal: 'address-not-allowed' };
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

export const refusedError = (hostname: string): NodeJS.ErrnoException =>
  Object.assign(new Error(`egress refused: ${hostname} resolves to an address not allowed`), { code: EGRESS_REFUSED, hostname });

/**
 * A `lookup` for net/tls connections under `policy`; `plain` for an http: agent (loopback
 * addresses only, and only with allowPrivate).
 */
export function guardedLookup(policy: EgressPolicy, options: { plain?: boolean; resolver?: Resolver } = {}) {
  const resolver = options.resolver ?? systemResolver;
  const plain = options.plain ?? false;
  return (hostname: string, lookupOptions: LookupOptions, callback: LookupCallback): void => {
    const family = lookupOptions.family === 4 || lookupOptions.family === 6 ? lookupOptions.family : 0;
    resolver(hostname, family).then(
      (addresses) => {
        if (addresses.length === 0) {
          callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND', hostname }), []);
          return;
        }
        if (!addresses.every((a) => addressAllowed(a.address, policy, plain))) {
          callback(refusedError(hostname), []);
          return;
        }
        const [first] = addresses as [LookupAddress];
        if (lookupOptions.all) callback(null, addresses);
        else callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, []),
    );
  };
}
