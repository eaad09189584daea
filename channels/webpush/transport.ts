/**
 * How web push requests leave Herald, under the egress policy (src/egress):
 *  - before each request the endpoint passes the static checks again (https, no userinfo, no IP
 *    literal, the allow-list) — Node's `lookup` never runs for IP literals, and a subscription
 *    stored before a policy change must not be called — else a `failed endpoint-refused` result;
 *  - every connection resolves its host through guardedLookup, so an address that is not
 *    allowed (DNS rebinding after registration) fails the connection with
 *    ERR_HERALD_EGRESS_REFUSED before a byte is sent;
 *  - the request itself is web-push's own (generateRequestDetails: encryption, VAPID, TTL,
 *    Urgency, Topic headers) sent over one keep-alive agent per scheme; `http:` exists only for
 *    push-service emulators with HERALD_WEBPUSH_ALLOW_PRIVATE, to loopback addresses.
 * A non-2xx answer rejects with `{ statusCode, headers, body }`, the fields web-push's
 * WebPushError carries, so classify.ts reads both alike.
 */
import http from 'node:http';
import https from 'node:https';
import type { RequestDetails } from 'web-push';
import { guardedLookup, type Resolver } from '../../src/egress/lookup.js';
import { checkUrl, type EgressPolicy, type EgressRefusal } from '../../src/egress/policy.js';

export interface PushResponse {
  statusCode: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface PushTransport {
  /** Why the endpoint may not be called now, or undefined when it may. */
  refusal(endpoint: string): EgressRefusal | undefined;
  send(details: RequestDetails, timeoutMs: number): Promise<PushResponse>;
  destroy(): void;
}

export interface PushTransportOptions {
  egress: EgressPolicy;
  ca?: string | Buffer;
  /** Tests: resolve names through this instead of the system resolver. */
  resolver?: Resolver;
}

/** The error a non-2xx answer rejects with (the shape of web-push's WebPushError). */
export class PushServiceError extends Error {
  override name = 'PushServiceError';
  constructor(
    readonly statusCode: number,
    readonly headers: http.IncomingHttpHeaders,
    readonly body: string,
  ) {
    super(`push service answered ${statusCode}`);
  }
}

export function createPushTransport(options: PushTransportOptions): PushTransport {
  const { egress } = options;
  const resolver = options.resolver !== undefined ? { resolver: options.resolver } : {};
  const secure = new https.Agent({
    keepAlive: true,
    lookup: guardedLookup(egress, resolver) as never,
    ...(options.ca !== undefined ? { ca: options.ca } : {}),
  });
  const plain = new http.Agent({ keepAlive: true, lookup: guardedLookup(egress, { ...resolver, plain: true }) as never });

  return {
    refusal(endpoint) {
      const checked = checkUrl(endpoint, egress);
      return checked.ok ? undefined : checked.refusal;
    },

    send(details, timeoutMs) {
      const url = new URL(details.endpoint);
      const client = url.protocol === 'http:' ? http : https;
      return new Promise<PushResponse>((resolve, reject) => {
        const request = client.request(
          url,
          {
            method: details.method,
            headers: details.headers,
            agent: url.protocol === 'http:' ? plain : secure,
            timeout: timeoutMs,
          },
          (response) => {
            let body = '';
            response.setEncoding('utf8');
            response.on('data', (chunk: string) => {
              body += chunk;
            });
            response.on('error', reject);
            response.on('end', () => {
              const statusCode = response.statusCode ?? 0;
              if (statusCode < 200 || statusCode > 299) reject(new PushServiceError(statusCode, response.headers, body));
              else resolve({ statusCode, headers: response.headers, body });
            });
          },
        );
        // The same codeless error as web-push's, classified as a timeout (classify.ts).
        request.on('timeout', () => request.destroy(new Error('Socket timeout')));
        request.on('error', reject);
        request.end(details.body ?? undefined);
      });
    },

    destroy() {
      secure.destroy();
      plain.destroy();
    },
  };
}
