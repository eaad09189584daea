/**
 * One long-lived, multiplexed HTTP/2 session to one origin (node:http2), shared by every request
 * of its owner, instead of a session per call. Used by the provider channels that speak HTTP/2:
 * FCM (./fcm/fcm-channel.ts, fcm.googleapis.com) and APNs (./apns/apns-channel.ts,
 * api.push.apple.com); each owns one client per origin.
 *
 * Sessions. At most one session takes new requests at a time (`current`); it is opened lazily by
 * the first request and replaced, for the requests that follow, as soon as it receives GOAWAY,
 * closes, errors, fails to connect within `connectTimeoutMs`, is found stalled (below) or was idle
 * for `idleTimeoutMs` (closed gracefully). Streams already open on a replaced session finish on
 * it, or fail. Egress: every session connects to the origin's host, or to `connectTo` when given
 * (proxy, staging, loopback fake) with TLS still naming the origin's host (SNI, certificate
 * check, `:authority`); nothing a caller passes can change where a connection goes.
 *
 * Requests. `request()` sends one request and resolves with its status, headers and body (any
 * status: judging it is the caller's business), or rejects with an Http2RequestError — always
 * worth retrying later, as nothing here depends on the request itself:
 *  - a request the server provably never processed — refused by GOAWAY (REFUSED_STREAM, stream
 *    id above the GOAWAY's last stream id), or whose session died before its headers were sent
 *    (connect failure, connect timeout) — is sent again on a fresh session, up to MAX_SENDS
 *    sends in all, within the request's deadline; so a GOAWAY loses and duplicates nothing;
 *  - `timeout`: no complete answer within `requestTimeoutMs` of the request getting its slot
 *    (the stream is cancelled);
 *  - `stalled`: its session was dropped as stalled: a stream unanswered for `pingTimeoutMs`
 *    makes the client PING the session (unless it answered something within that time), and a
 *    PING unanswered for `pingTimeoutMs` destroys the session, failing its open streams at once
 *    instead of letting later requests queue behind it until their deadline;
 *  - `network`: the stream or session failed after the request was sent (it may have been
 *    processed), or every send found the session dead before it went out. Its `cause` is the
 *    stream's or the session's error when there was one (ECONNREFUSED, ECONNRESET, a TLS code).
 * At most `maxStreams` requests are in flight at once across all callers (FIFO beyond that).
 * Sessions are unref'd: an idle client keeps no process alive. `close()` refuses new requests,
 * closes every session gracefully and destroys what is still open after CLOSE_WAIT_MS.
 * `parseHostPort` reads a channel's `host` setting into `connectTo`.
 */
import http2 from 'node:http2';
import tls from 'node:tls';
import type { Logger } from 'pino';

export interface HostPort {
  host: string;
  port: number;
}

/** Parses `host`, `host:port`, `[v6]` or `[v6]:port`; the port defaults to 443. */
export function parseHostPort(value: string): HostPort {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(value.trim());
  const host = match?.[1] ?? match?.[2];
  const port = match?.[3] === undefined ? 443 : Number(match[3]);
  if (!host || !Number.isInteger(port) || port < 1 || port > 65_535) throw new Error(`"${value}" is not host[:port]`);
  return { host, port };
}

export interface Http2ClientOptions {
  /** `https://host[:port]`: what requests are for (TLS name, `:authority`). */
  origin: string;
  /** Connect here instead of the origin's host; TLS still names the origin's host. */
  connectTo?: HostPort;
  /** CA certificate(s) trusted instead of the default ones. */
  ca?: string | Buffer;
  /** Requests in flight at once, across all callers. Default 100. */
  maxStreams?: number;
  /** A request without a complete answer this long after it got its slot fails `timeout`. Default 10 s. */
  requestTimeoutMs?: number;
  /** Stream unanswered this long → PING; PING unanswered this long → the session is dropped. Default 2 s. */
  pingTimeoutMs?: number;
  /** A session not connected (TLS done) this long after it was opened is dropped. Default 5 s. */
  connectTimeoutMs?: number;
  /** A session without streams this long is closed; the next request opens another. Default 60 s. */
  idleTimeoutMs?: number;
  /** Answers longer than this fail `network` (the stream is cancelled). Default 1 MiB. */
  maxBodyBytes?: number;
  logger?: Logger;
}

/** The HTTP/2 settings a push channel (APNs, FCM) takes from its options and passes to its client. */
export type Http2ChannelOptions = Pick<Http2ClientOptions, 'ca' | 'requestTimeoutMs' | 'pingTimeoutMs' | 'logger'>;

/** A channel's client options: its origin, streams in flight and connect target, and the settings it was given. */
export function channelHttp2Options(origin: string, maxStreams: number, connectTo: HostPort | undefined, options: Http2ChannelOptions): Http2ClientOptions {
  return {
    origin,
    maxStreams,
    ...(connectTo ? { connectTo } : {}),
    ...(options.ca !== undefined ? { ca: options.ca } : {}),
    ...(options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
    ...(options.pingTimeoutMs !== undefined ? { pingTimeoutMs: options.pingTimeoutMs } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  };
}

export interface Http2Request {
  method?: string;
  path: string;
  headers?: http2.OutgoingHttpHeaders;
  body?: string;
}

export interface Http2Reply {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: string;
}

export type Http2FailureCode = 'timeout' | 'stalled' | 'network';

export class Http2RequestError extends Error {
  override name = 'Http2RequestError';
  constructor(
    message: string,
    readonly code: Http2FailureCode,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface Http2Client {
  request(request: Http2Request): Promise<Http2Reply>;
  /** Sessions opened so far (tests, benchmarks). */
  readonly sessionsOpened: number;
  /** Requests in flight now. */
  readonly inFlight: number;
  close(): Promise<void>;
}

/** Sends of one request when the server provably did not process the earlier ones. */
export const MAX_SENDS = 3;
const CLOSE_WAIT_MS = 2_000;
const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM } = http2.constants;

interface Session {
  h2: http2.ClientHttp2Session;
  /** Still given new requests. */
  usable: boolean;
  streams: number;
  /** When the session last answered anything (a response's headers, a PING). */
  answeredAt: number;
  pinging: boolean;
  /** Dropped because a PING went unanswered. */
  stalled: boolean;
  /** The session's last error (a failure's `cause`). */
  error: Error | undefined;
  idleTimer: NodeJS.Timeout | undefined;
}

/** How one send ended: a complete answer, or a failure and whether the server may have processed it. */
type SendOutcome = { ok: true; reply: Http2Reply } | { ok: false; unprocessed: boolean; error: Http2RequestError };

export function createHttp2Client(options: Http2ClientOptions): Http2Client {
  const origin = new URL(options.origin);
  if (origin.protocol !== 'https:') throw new Error(`http2 client: ${options.origin} is not an https origin`);
  const maxStreams = Math.max(1, Math.floor(options.maxStreams ?? 100));
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  const pingTimeoutMs = options.pingTimeoutMs ?? 2_000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const logger = options.logger;
  const { connectTo, ca } = options;

  const sessions = new Set<Session>();
  let current: Session | undefined;
  let opened = 0;
  let closed = false;

  // FIFO slots: at most maxStreams requests in flight.
  let active = 0;
  const waiting: Array<() => void> = [];
  const acquire = async (): Promise<void> => {
    if (active < maxStreams) active++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
  };
  const release = (): void => {
    const next = waiting.shift();
    if (next) next();
    else active--;
  };

  const retire = (s: Session): void => {
    s.usable = false;
    if (current === s) current = undefined;
    clearTimeout(s.idleTimer);
  };

  const open = (): Session => {
    const h2 = http2.connect(origin, {
      peerMaxConcurrentStreams: maxStreams,
      ...(ca !== undefined ? { ca } : {}),
      ...(connectTo
        ? {
            createConnection: () =>
              tls.connect({
                host: connectTo.host,
                port: connectTo.port,
                servername: origin.hostname,
                ALPNProtocols: ['h2'],
                ...(ca !== undefined ? { ca } : {}),
              }),
          }
        : {}),
    });
    h2.unref();
    opened++;
    const s: Session = {
      h2,
      usable: true,
      streams: 0,
      answeredAt: Date.now(),
      pinging: false,
      stalled: false,
      error: undefined,
      idleTimer: undefined,
    };
    sessions.add(s);
    const connectTimer = setTimeout(() => {
      if (!h2.connecting) return;
      logger?.warn({ origin: origin.host, connectTimeoutMs }, 'http2 session not connected in time; dropped');
      retire(s);
      h2.destroy(new Error(`not connected within ${connectTimeoutMs} ms`));
    }, connectTimeoutMs);
    connectTimer.unref();
    h2.once('connect', () => clearTimeout(connectTimer));
    h2.on('goaway', (errorCode, lastStreamID) => {
      logger?.info({ origin: origin.host, errorCode, lastStreamID, open: s.streams }, 'http2 session got GOAWAY; later requests go to a new session');
      retire(s);
    });
    h2.on('error', (err: NodeJS.ErrnoException) => {
      logger?.warn({ origin: origin.host, err: err.code ?? err.message }, 'http2 session error');
      s.error = err;
      retire(s);
    });
    h2.on('close', () => {
      clearTimeout(connectTimer);
      retire(s);
      sessions.delete(s);
    });
    return s;
  };

  const sessionForRequest = (): Session => {
    if (current && (!current.usable || current.h2.closed || current.h2.destroyed)) current = undefined;
    current ??= open();
    return current;
  };

  /** PINGs `s` unless it answered lately or a PING is out; an unanswered PING drops it. */
  const checkAlive = (s: Session): void => {
    if (s.pinging || s.h2.destroyed || s.h2.connecting || Date.now() - s.answeredAt < pingTimeoutMs) return;
    s.pinging = true;
    const timer = setTimeout(() => {
      if (s.h2.destroyed) return;
      logger?.warn({ origin: origin.host, pingTimeoutMs, open: s.streams }, 'http2 session stalled (PING unanswered); dropped');
      s.stalled = true;
      retire(s);
      s.h2.destroy();
    }, pingTimeoutMs);
    try {
      s.h2.ping((err) => {
        clearTimeout(timer);
        s.pinging = false;
        if (!err) s.answeredAt = Date.now();
      });
    } catch {
      clearTimeout(timer);
      s.pinging = false;
    }
  };

  const streamStarted = (s: Session): void => {
    s.streams++;
    clearTimeout(s.idleTimer);
    s.idleTimer = undefined;
  };
  const streamEnded = (s: Session): void => {
    s.streams--;
    if (s.streams > 0 || !s.usable) return;
    s.idleTimer = setTimeout(() => {
      if (s.streams > 0) return;
      retire(s);
      s.h2.close();
    }, idleTimeoutMs);
    s.idleTimer.unref();
  };

  const sendOnce = (s: Session, request: Http2Request, deadline: number): Promise<SendOutcome> =>
    new Promise((resolve) => {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = s.h2.request({ ':method': request.method ?? 'POST', ':path': request.path, ...request.headers }, { endStream: request.body === undefined });
      } catch (err) {
        // The session closed (GOAWAY) or died since it was picked: nothing was sent.
        retire(s);
        resolve({ ok: false, unprocessed: true, error: new Http2RequestError('http2 session unusable', 'network', { cause: err }) });
        return;
      }
      streamStarted(s);
      let settled = false;
      let sent = false;
      let status: number | undefined;
      let headers: http2.IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      let bytes = 0;
      let failure: Http2RequestError | undefined;
      let streamError: Error | undefined;

      const settle = (outcome: SendOutcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadlineTimer);
        clearInterval(pingTimer);
        resolve(outcome);
      };
      const deadlineTimer = setTimeout(
        () => {
          failure = new Http2RequestError(`no answer within ${requestTimeoutMs} ms`, 'timeout');
          stream.close(NGHTTP2_CANCEL);
          checkAlive(s);
        },
        Math.max(0, deadline - Date.now()),
      );
      // While unanswered, the session is checked every pingTimeoutMs (a check while connecting or
      // right after an answer or an acknowledged PING does nothing).
      const pingTimer = setInterval(() => checkAlive(s), pingTimeoutMs);

      stream.on('ready', () => {
        sent = true;
      });
      stream.on('response', (h) => {
        status = Number(h[':status']);
        headers = h;
        s.answeredAt = Date.now();
        clearInterval(pingTimer);
      });
      stream.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > maxBodyBytes) {
          failure = new Http2RequestError(`answer over ${maxBodyBytes} bytes`, 'network');
          stream.close(NGHTTP2_CANCEL);
          return;
        }
        chunks.push(chunk);
      });
      stream.on('end', () => {
        if (status !== undefined && failure === undefined) settle({ ok: true, reply: { status, headers, body: Buffer.concat(chunks).toString('utf8') } });
      });
      stream.on('error', (err: Error) => {
        // Judged at 'close' from what the stream got to; kept as the failure's cause.
        streamError = err;
      });
      stream.on('close', () => {
        streamEnded(s);
        if (settled) return;
        if (failure) return settle({ ok: false, unprocessed: false, error: failure });
        const cause = streamError ?? s.error;
        const because = cause !== undefined ? { cause } : undefined;
        const refused = stream.rstCode === NGHTTP2_REFUSED_STREAM;
        if (refused || !sent) {
          settle({
            ok: false,
            unprocessed: true,
            error: new Http2RequestError(refused ? 'stream refused (GOAWAY)' : 'session lost before the request was sent', 'network', because),
          });
          return;
        }
        if (s.stalled) return settle({ ok: false, unprocessed: false, error: new Http2RequestError('http2 session stalled (PING unanswered)', 'stalled') });
        settle({ ok: false, unprocessed: false, error: new Http2RequestError(`stream closed before its answer (code ${stream.rstCode})`, 'network', because) });
      });
      if (request.body !== undefined) stream.end(request.body);
    });

  return {
    async request(request) {
      if (closed) throw new Http2RequestError('http2 client closed', 'network');
      await acquire();
      try {
        const deadline = Date.now() + requestTimeoutMs;
        for (let sends = 1; ; sends++) {
          const outcome = await sendOnce(sessionForRequest(), request, deadline);
          if (outcome.ok) return outcome.reply;
          if (!outcome.unprocessed || sends >= MAX_SENDS || Date.now() >= deadline || closed) throw outcome.error;
        }
      } finally {
        release();
      }
    },

    get sessionsOpened() {
      return opened;
    },

    get inFlight() {
      return active;
    },

    async close() {
      closed = true;
      current = undefined;
      await Promise.all(
        [...sessions].map(
          (s) =>
            new Promise<void>((resolve) => {
              retire(s);
              if (s.h2.destroyed) return resolve();
              const timer = setTimeout(() => s.h2.destroy(), CLOSE_WAIT_MS);
              s.h2.close(() => {
                clearTimeout(timer);
                resolve();
              });
              s.h2.once('close', () => {
                clearTimeout(timer);
                resolve();
              });
            }),
        ),
      );
    },
  };
}
