/**
 * The HTTP client under the twilio SDK: its own RequestClient (one keep-alive https.Agent for
 * the process's life), which
 *  - sends every request to `baseUrl` instead of https://api.twilio.com when one is configured
 *    (a proxy, a staging endpoint, the loopback fake in tests), keeping path and query;
 *  - keeps the `Retry-After` of each response for the send that caused it. The SDK's
 *    RestException drops the response headers, so a send runs inside `capture()`, and the
 *    header is read back from there when the send fails (AsyncLocalStorage keeps concurrent
 *    sends apart).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import https from 'node:https';
import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient.js';
import type ResponseModule from 'twilio/lib/http/response.js';

/** The SDK's response (its .d.ts is an ES default export inside a CommonJS package). */
type Response<T> = ResponseModule.default<T>;

export interface ResponseCapture {
  /** The Retry-After header of the last response received for this send. */
  retryAfter?: string;
}

export interface HttpClientOptions {
  baseUrl?: string;
  ca?: string | Buffer;
  /** Sockets per host; at least the channel's concurrency. */
  maxSockets: number;
  timeoutMs?: number;
}

export class HeraldTwilioHttpClient extends twilio.RequestClient {
  private readonly captures = new AsyncLocalStorage<ResponseCapture>();
  private readonly baseUrl: string | undefined;

  constructor(options: HttpClientOptions) {
    super({
      keepAlive: true,
      maxSockets: options.maxSockets,
      maxFreeSockets: options.maxSockets,
      autoRetry: false,
      ...(options.ca !== undefined ? { ca: options.ca } : {}),
      ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
    });
    this.baseUrl = options.baseUrl?.replace(/\/+$/, '');
  }

  /** Runs `send` with a fresh capture of what its responses said. */
  async capture<T>(send: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown; capture: ResponseCapture }> {
    const capture: ResponseCapture = {};
    try {
      return { ok: true, value: await this.captures.run(capture, send) };
    } catch (error) {
      return { ok: false, error, capture };
    }
  }

  override async request<TData>(opts: RequestClient.RequestOptions<TData>): Promise<Response<TData>> {
    const response = await super.request(this.baseUrl ? { ...opts, uri: this.rebase(opts.uri) } : opts);
    const capture = this.captures.getStore();
    if (capture) {
      const retryAfter = headerOf(response.headers, 'retry-after');
      if (retryAfter === undefined) delete capture.retryAfter;
      else capture.retryAfter = retryAfter;
    }
    return response;
  }

  /** Closes the pooled connections. */
  destroy(): void {
    const agent: unknown = this.axios.defaults.httpsAgent;
    if (agent instanceof https.Agent) agent.destroy();
  }

  private rebase(uri: string): string {
    const target = new URL(uri);
    return `${this.baseUrl}${target.pathname}${target.search}`;
  }
}

function headerOf(headers: unknown, name: string): string | undefined {
  if (typeof headers !== 'object' || headers === null) return undefined;
  const value = (headers as Record<string, unknown>)[name];
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return undefined;
}
