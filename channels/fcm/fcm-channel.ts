/**
 * The FCM channel: Android pushes through FCM HTTP v1, one `POST /v1/projects/<project>/messages:send`
 * per delivery (body `{"message": …}`, ./compose.ts), over ONE long-lived, multiplexed HTTP/2
 * session to fcm.googleapis.com for the life of the channel (../http2-session.ts): opened on the
 * first send, replaced when it gets GOAWAY, closes, errors, stalls (a PING unanswered) or was
 * idle for a minute. firebase-admin's `sendEach`, used before, opened a fresh session per call
 * and closed it after, so every batch paid a connection and a TLS handshake, and a session that
 * stalled held the whole call until its per-request timeouts.
 *
 * Per delivery, `sendOne`, through the project's gate (../provider-gate.ts: urgency order, at
 * most `concurrency` in flight, a 429's Retry-After pausing the project, a circuit opened by
 * repeated 5xx or transport failures):
 * the OAuth2 access token of the service account (./access-token.ts: fetched once, shared, reused
 * until 5 minutes before expiry), then the request. A 401 without an FcmError detail means FCM
 * refused the token: it is dropped, a new one is fetched (once for all requests that saw it) and
 * the request is sent once more. Every answer and failure is classified (./classify.ts), with
 * the answer's Retry-After honoured.
 *
 * Transport. The session goes to fcm.googleapis.com:443, or to `host` (proxy, staging, tests)
 * with TLS still naming fcm.googleapis.com; the token request goes to oauth2.googleapis.com over
 * HTTPS/1.1, through a keep-alive agent that connects to `host` as well when it is set
 * (./host-agent.ts). `ca` replaces the trusted CAs of both. No other host is ever connected to.
 *
 * Guarantees (Channel port): one classified result per delivery, in batch order, each also
 * reported through `onResult` as soon as it is known; never throws for one delivery's failure;
 * at most `concurrency` requests in flight per batch and across all batches (the session's
 * stream limit). `close()` waits for sends in progress, then closes the session and the
 * agent's sockets.
 */
import https from 'node:https';
import type { Logger } from 'pino';
import { mapLimit } from '../../src/concurrency.js';
import { channelHttp2Options, createHttp2Client, type Http2Reply, parseHostPort } from '../http2-session.js';
import { type Channel, type Delivery, type DeliveryResult, type ProviderStatus, reportingEach } from '../port.js';
import { type CircuitSettings, createProviderGate } from '../provider-gate.js';
import { trackSends } from '../send-tracker.js';
import { cachedAccessToken, serviceAccountCredential } from './access-token.js';
import { accessTokenRefused, classifyFcmAnswer, classifyTokenError, classifyTransportError, serverCode } from './classify.js';
import { composeFcmMessage, type FcmWireMessage } from './compose.js';
import { HostOverrideAgent } from './host-agent.js';
import { readServiceAccount } from './service-account.js';

export const FCM_ORIGIN = 'https://fcm.googleapis.com';
/** Requests in flight at once when not configured (FCM's own limit of concurrent streams per session is 100). */
export const DEFAULT_FCM_CONCURRENCY = 100;

export interface FcmChannelOptions {
  /** Path to the service-account JSON file, read once at creation. */
  serviceAccountPath: string;
  /** `host[:port]` every FCM and Google OAuth2 connection goes to instead (proxy, staging, tests). */
  host?: string;
  /** CA certificate(s) trusted for those connections instead of the default ones. */
  ca?: string | Buffer;
  logger?: Logger;
  /** Requests (HTTP/2 streams) in flight at once. Default 100. */
  concurrency?: number;
  /** A send without an answer this long fails as `retry fcm-network-timeout`. Default 10 s. */
  requestTimeoutMs?: number;
  /** Unanswered stream → PING after this; unanswered PING → session dropped after this. Default 2 s. */
  pingTimeoutMs?: number;
  /** Failures in a row that open the project's circuit, and how long it stays open first (ms). */
  circuit?: CircuitSettings;
}

export interface FcmChannel extends Channel {
  /** HTTP/2 sessions opened so far (tests, benchmarks). */
  readonly sessionsOpened: number;
  providers(): ProviderStatus[];
}

export function createFcmChannel(options: FcmChannelOptions): FcmChannel {
  const account = readServiceAccount(options.serviceAccountPath);
  const logger = options.logger;
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? DEFAULT_FCM_CONCURRENCY));
  const target = options.host ? parseHostPort(options.host) : undefined;
  const agentOptions: https.AgentOptions = { keepAlive: true, maxSockets: 4, ...(options.ca !== undefined ? { ca: options.ca } : {}) };
  const agent = target ? new HostOverrideAgent(target, agentOptions) : options.ca !== undefined ? new https.Agent(agentOptions) : undefined;

  const credential = serviceAccountCredential(account, agent);
  const tokens = cachedAccessToken(() =>
    credential.getAccessToken().catch((err: unknown) => {
      logger?.warn({ err }, 'fcm access token not obtained');
      throw err;
    }),
  );
  const client = createHttp2Client(channelHttp2Options(FCM_ORIGIN, concurrency, target, options));
  const path = `/v1/projects/${encodeURIComponent(account.projectId)}/messages:send`;
  const sends = trackSends('fcm');
  const gate = createProviderGate({
    provider: `fcm:${account.projectId}`,
    concurrency,
    circuit: options.circuit,
    onCircuit: (provider, circuit) => logger?.warn({ provider, circuit }, 'fcm: project circuit changed'),
  });

  const post = (body: string, token: string): Promise<Http2Reply> =>
    client.request({ path, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json; charset=UTF-8' }, body });

  /** One FCM request (and at most one more with a new access token). */
  const sendOne = async (delivery: Delivery, message: FcmWireMessage): Promise<DeliveryResult> => {
    const context = { messageId: delivery.message.id, uid: delivery.recipient.uid, deviceId: delivery.device?.id };
    const body = JSON.stringify({ message });
    let reply: Http2Reply | undefined;
    for (let send = 1; send <= 2; send++) {
      let token: string;
      try {
        token = await tokens.get();
      } catch (err) {
        return classifyTokenError(err, delivery.attempt);
      }
      try {
        reply = await post(body, token);
      } catch (err) {
        const result = classifyTransportError(err, delivery.attempt);
        logger?.warn({ ...context, err: (err as Error).message, result }, 'fcm send failed');
        return result;
      }
      // A second refusal is classified (retry later), not answered with yet another token.
      if (send === 2 || !accessTokenRefused(reply.status, reply.body)) break;
      tokens.invalidate(token);
    }
    if (reply?.status === 200) {
      let name: unknown;
      try {
        name = (JSON.parse(reply.body) as { name?: unknown }).name;
      } catch {
        // 200 without JSON: sent, without an id.
      }
      return typeof name === 'string' ? { type: 'sent', providerId: name } : { type: 'sent' };
    }
    const answer = { status: reply?.status ?? 0, body: reply?.body ?? '', retryAfter: reply?.headers['retry-after'] };
    const result = classifyFcmAnswer(answer, delivery.attempt);
    logger?.warn({ ...context, status: answer.status, code: serverCode(answer.body), result }, 'fcm send failed');
    return result;
  };

  const deliverOne = async (delivery: Delivery): Promise<DeliveryResult> => {
    const composed = composeFcmMessage(delivery, Date.now());
    return composed.ok ? gate.send(delivery.message.urgency, () => sendOne(delivery, composed.message)) : composed.result;
  };

  return {
    name: 'fcm',

    get sessionsOpened() {
      return client.sessionsOpened;
    },

    async deliver(batch, onResult) {
      return sends.run(() => mapLimit(batch, concurrency, reportingEach(deliverOne, onResult)));
    },

    providers: () => [gate.status()],

    async close() {
      gate.close();
      if (!(await sends.close())) return;
      await client.close();
      agent?.destroy();
    },
  };
}
