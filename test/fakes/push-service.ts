/**
 * A loopback Web Push service (RFC 8030/8291/8292) for tests: HTTPS on 127.0.0.1 (ephemeral port,
 * the shared test certificate). `POST /push/<id>`:
 *  - verifies VAPID: `Authorization: vapid t=<JWT>, k=<key>`, an ES256 JWT checked with jose
 *    against the JWK built from `k`, with `aud` = this origin (port included), `exp` in the
 *    future and at most 24 h ahead, `sub` present (and `k` = `expectVapidKey` when set) — else 401;
 *  - decrypts the aes128gcm body with http_ece using the subscription's ECDH private key and
 *    auth secret — else 400; an unknown id is 404;
 *  - records every request (`{ id, status, headers: { ttl, urgency, topic }, payload }`) and
 *    answers the next scripted answer for that id (see `answer`), else `defaultAnswer` when set
 *    (a whole service throttling for a while), else 201 with a Location.
 * It counts requests in flight (`inFlight`, `maxInFlight`) to check a client's concurrency.
 * With `verify: false` (benchmarks) it skips VAPID and decryption and only counts and answers.
 */
import { createECDH, randomBytes, randomUUID } from 'node:crypto';
import https from 'node:https';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { importJWK, type JWTPayload, jwtVerify } from 'jose';
import { testCertificate } from './tls.js';

interface HttpEce {
  decrypt(buffer: Buffer, params: { version: 'aes128gcm'; privateKey: ReturnType<typeof createECDH>; authSecret: Buffer }): Buffer;
}
const ece = createRequire(import.meta.url)('http_ece') as HttpEce;

export interface PushAnswer {
  status: number;
  /** Sent as Retry-After: delta-seconds, or an HTTP date as text. */
  retryAfter?: number | string;
  /** Holds the answer back this long (to observe concurrency). */
  delayMs?: number;
}

export interface PushRecord {
  id: string;
  /** When the request arrived (epoch ms). */
  at: number;
  /** The status answered. */
  status: number;
  headers: { ttl: number | null; urgency: string | null; topic: string | null; contentEncoding: string | null };
  /** The decrypted body, parsed as JSON (null when not decrypted). */
  payload: any;
  /** The verified VAPID claims and key. */
  vapid?: { sub: string; aud: string; exp: number; k: string };
  /** Why the request was refused (401 / 400 / 404), if it was. */
  error?: string;
}

export interface FakeSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
  expirationTime: null;
}

export interface PushServiceFake {
  /** `https://127.0.0.1:<port>` */
  origin: string;
  records: PushRecord[];
  /** Requests being answered now, and the most seen at once since the last resetStats(). */
  readonly inFlight: number;
  readonly maxInFlight: number;
  /** When set, a VAPID `k` other than this key is refused. */
  expectVapidKey: string | undefined;
  /** A new subscription on this service, as a browser's PushSubscription.toJSON(). */
  subscription(): FakeSubscription;
  /** The id in a subscription's endpoint. */
  idOf(endpoint: string): string;
  /** Answers for the next requests to `id`, consumed in order; 201 afterwards. */
  answer(id: string, answers: PushAnswer[]): void;
  /** Every request holds its answer this long (unless scripted otherwise). */
  latencyMs: number;
  /** While set, the answer to every request that has no scripted one (e.g. 429 for a window of time). */
  defaultAnswer: PushAnswer | undefined;
  recordsFor(id: string): PushRecord[];
  /**
   * Resolves once `count` requests were recorded in all (a number), or once `count` (default 1)
   * records match the predicate; with the matching records. Rejects after `timeoutMs`.
   */
  waitFor(match: number | ((record: PushRecord) => boolean), timeoutMs?: number, count?: number): Promise<PushRecord[]>;
  resetStats(): void;
  close(): Promise<void>;
}

export interface PushServiceOptions {
  /** Verify VAPID and decrypt (default true); false only counts and answers (benchmarks). */
  verify?: boolean;
  /** Keep records (default true). */
  record?: boolean;
  /** TLS key and certificate; default the shared test certificate of this process. */
  certificate?: { key: string; cert: string };
}

interface Subscriber {
  ecdh: ReturnType<typeof createECDH>;
  auth: Buffer;
}

const headerText = (value: string | string[] | undefined): string | null => (Array.isArray(value) ? (value[0] ?? null) : (value ?? null));

const readBody = (req: NodeJS.ReadableStream): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });

class Refused extends Error {
  constructor(
    readonly status: number,
    reason: string,
  ) {
    super(reason);
  }
}

/** Verifies `vapid t=<jwt>, k=<key>` for `origin`; returns the claims or throws Refused(401). */
async function verifyVapid(authorization: string | null, origin: string, expectKey: string | undefined): Promise<NonNullable<PushRecord['vapid']>> {
  const match = /^vapid\s+(.+)$/i.exec(authorization ?? '');
  if (!match?.[1]) throw new Refused(401, 'no vapid authorization');
  const params = new Map(
    match[1].split(',').map((part) => {
      const i = part.indexOf('=');
      return [part.slice(0, i).trim(), part.slice(i + 1).trim()] as const;
    }),
  );
  const t = params.get('t');
  const k = params.get('k');
  if (!t || !k) throw new Refused(401, 'vapid t or k missing');
  if (expectKey !== undefined && k !== expectKey) throw new Refused(401, 'unexpected vapid key');
  const raw = Buffer.from(k, 'base64url');
  if (raw.length !== 65 || raw[0] !== 4) throw new Refused(401, 'vapid k is not an uncompressed P-256 point');
  const key = await importJWK(
    { kty: 'EC', crv: 'P-256', x: raw.subarray(1, 33).toString('base64url'), y: raw.subarray(33, 65).toString('base64url') },
    'ES256',
  );
  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(t, key, { algorithms: ['ES256'], audience: origin, requiredClaims: ['exp', 'sub'] }));
  } catch (err) {
    throw new Refused(401, `vapid jwt: ${(err as Error).message}`);
  }
  const exp = claims.exp as number;
  if (exp > Date.now() / 1000 + 24 * 3600 + 60) throw new Refused(401, 'vapid exp more than 24 h ahead');
  if (typeof claims.sub !== 'string' || !/^(mailto:|https:)/.test(claims.sub)) throw new Refused(401, 'vapid sub is not mailto: or https:');
  return { sub: claims.sub, aud: String(claims.aud), exp, k };
}

export async function startPushService(options: PushServiceOptions = {}): Promise<PushServiceFake> {
  const verify = options.verify ?? true;
  const keep = options.record ?? true;
  const { key, cert } = options.certificate ?? testCertificate();
  const subscribers = new Map<string, Subscriber>();
  const scripts = new Map<string, PushAnswer[]>();
  const records: PushRecord[] = [];
  let waiters: Array<() => void> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let origin = '';

  const wake = (): void => {
    const current = waiters;
    waiters = [];
    for (const w of current) w();
  };

  const handle = async (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): Promise<void> => {
    const at = Date.now();
    const body = await readBody(req);
    const match = /^\/push\/([A-Za-z0-9_-]+)$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !match?.[1]) {
      res.writeHead(404).end();
      return;
    }
    const id = match[1];
    const record: PushRecord = {
      id,
      at,
      status: 201,
      headers: {
        ttl: req.headers.ttl === undefined ? null : Number(headerText(req.headers.ttl)),
        urgency: headerText(req.headers.urgency),
        topic: headerText(req.headers.topic),
        contentEncoding: headerText(req.headers['content-encoding']),
      },
      payload: null,
    };
    let answer: PushAnswer = { status: 201 };
    try {
      const subscriber = subscribers.get(id);
      if (!subscriber) throw new Refused(404, 'no such subscription');
      if (verify) {
        record.vapid = await verifyVapid(headerText(req.headers.authorization), origin, fake.expectVapidKey);
        if (record.headers.contentEncoding !== 'aes128gcm') throw new Refused(400, 'content-encoding is not aes128gcm');
        try {
          const plain = ece.decrypt(body, { version: 'aes128gcm', privateKey: subscriber.ecdh, authSecret: subscriber.auth });
          record.payload = JSON.parse(plain.toString('utf8'));
        } catch (err) {
          throw new Refused(400, `cannot decrypt: ${(err as Error).message}`);
        }
      }
      answer = scripts.get(id)?.shift() ?? fake.defaultAnswer ?? { status: 201 };
    } catch (err) {
      if (!(err instanceof Refused)) throw err;
      answer = { status: err.status };
      record.error = err.message;
    }
    const delay = answer.delayMs ?? fake.latencyMs;
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    record.status = answer.status;
    const headers: Record<string, string> = {};
    if (answer.retryAfter !== undefined) headers['retry-after'] = String(answer.retryAfter);
    if (answer.status === 201) headers.location = `${origin}/message/${randomUUID()}`;
    if (keep) records.push(record);
    res.writeHead(answer.status, headers).end();
    wake();
  };

  const server = https.createServer({ key, cert }, (req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      inFlight--;
    };
    // Counted out when the answer is written (not on 'finish', which may come a tick after
    // the client, in the same process, already has it) or when the connection drops.
    const end = res.end.bind(res);
    res.end = ((...args: Parameters<typeof end>) => {
      finish();
      return end(...args);
    }) as typeof res.end;
    res.on('close', finish);
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    });
  });
  server.keepAliveTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const matching = (match: number | ((record: PushRecord) => boolean), count: number): PushRecord[] | undefined => {
    if (typeof match === 'number') return records.length >= match ? records : undefined;
    const found = records.filter(match);
    return found.length >= count ? found : undefined;
  };

  const fake: PushServiceFake = {
    origin,
    records,
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    expectVapidKey: undefined,
    latencyMs: 0,
    defaultAnswer: undefined,
    subscription() {
      const id = randomBytes(12).toString('base64url');
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      const auth = randomBytes(16);
      subscribers.set(id, { ecdh, auth });
      return {
        endpoint: `${origin}/push/${id}`,
        keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') },
        expirationTime: null,
      };
    },
    idOf(endpoint) {
      return endpoint.slice(endpoint.lastIndexOf('/') + 1);
    },
    answer(id, answers) {
      scripts.set(id, [...(scripts.get(id) ?? []), ...answers]);
    },
    recordsFor(id) {
      return records.filter((r) => r.id === id);
    },
    async waitFor(match, timeoutMs = 10_000, count = 1) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = matching(match, count);
        if (found) return found;
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new Error(
            `push service: condition not met after ${timeoutMs} ms; ${records.length} request(s): ${JSON.stringify(records.slice(-5)).slice(0, 800)}`,
          );
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    resetStats() {
      maxInFlight = inFlight;
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
  return fake;
}

/** The env a `herald serve` child needs to push to this fake: trust its certificate, allow a loopback endpoint. */
export const pushServiceClientEnv = (): Record<string, string> => ({ NODE_EXTRA_CA_CERTS: testCertificate().certFile, HERALD_WEBPUSH_ALLOW_PRIVATE: 'true' });
