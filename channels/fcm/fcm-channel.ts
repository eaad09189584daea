/**
 * The FCM channel: Android pushes through firebase-admin's `sendEach` (FCM HTTP v1), up to 500
 * messages per call. One firebase-admin App (uniquely named, so several channels may live in one
 * process) and one Messaging are built at creation and kept for the life of the process; the
 * OAuth2 access token is fetched once and reused until it nears expiry.
 *
 * Transport. firebase-admin hard-codes fcm.googleapis.com; the access token comes from
 * oauth2.googleapis.com (./access-token.ts, Google's JWT-bearer grant).
 *  - `host` unset (production default): sendEach speaks HTTP/2 (one multiplexed session per call),
 *    as the library does by default; the token call uses Node's default HTTPS agent.
 *  - `host` (or `ca`) set: every connection — the token endpoint and FCM — goes through one
 *    keep-alive https.Agent that connects to `host` while keeping the real host name for TLS, and
 *    sendEach is switched to HTTP/1.1 (`enableLegacyHttpTransport`), because firebase-admin's
 *    HTTP/2 path (`http2.connect`) takes no agent. HTTP/1.1 through a forward proxy or a staging
 *    endpoint is supported by the library; `maxSockets` bounds the connections per call.
 *
 * Guarantees (Channel port): one classified result per delivery, in batch order; never throws
 * for one delivery's failure (classification: ./classify.ts). `close()` waits for sends in
 * progress, then deletes the App and closes the agent's sockets.
 */
import { randomUUID } from 'node:crypto';
import https from 'node:https';
import { type Credential, deleteApp, initializeApp } from 'firebase-admin/app';
import { getMessaging, type TokenMessage } from 'firebase-admin/messaging';
import type { Logger } from 'pino';
import type { Channel, Delivery, DeliveryResult } from '../port.js';
import { trackSends } from '../send-tracker.js';
import { serviceAccountCredential } from './access-token.js';
import { classifyBatchError, classifyFcmError, errorCode, type TokenFailure, tokenFailureOf } from './classify.js';
import { composeFcmMessage } from './compose.js';
import { HostOverrideAgent, parseHostPort } from './host-agent.js';
import { readServiceAccount } from './service-account.js';

/** FCM's limit on messages per sendEach call. */
export const FCM_BATCH_LIMIT = 500;

export interface FcmChannelOptions {
  /** Path to the service-account JSON file, read once at creation. */
  serviceAccountPath: string;
  /** `host[:port]` every FCM and Google OAuth2 connection goes to instead (proxy, staging, tests). */
  host?: string;
  /** CA certificate(s) trusted for those connections instead of the default ones. */
  ca?: string | Buffer;
  logger?: Logger;
  /** Connections per host when HTTP/1.1 is used (`host` or `ca` set). Default 64. */
  maxSockets?: number;
}

interface Pending {
  index: number;
  delivery: Delivery;
  message: TokenMessage;
}

export function createFcmChannel(options: FcmChannelOptions): Channel {
  const account = readServiceAccount(options.serviceAccountPath);
  const logger = options.logger;
  const agentOptions: https.AgentOptions = { keepAlive: true, maxSockets: Math.max(1, options.maxSockets ?? 64), ...(options.ca ? { ca: options.ca } : {}) };
  const agent = options.host ? new HostOverrideAgent(parseHostPort(options.host), agentOptions) : options.ca ? new https.Agent(agentOptions) : undefined;

  // firebase-admin reports every failure to get an access token as `app/invalid-credential`;
  // this wrapper remembers whether Google refused the credential or could not be reached.
  const serviceAccount = serviceAccountCredential(account, agent);
  let tokenFailure: TokenFailure | undefined;
  const credential: Credential = {
    async getAccessToken() {
      try {
        const token = await serviceAccount.getAccessToken();
        tokenFailure = undefined;
        return token;
      } catch (err) {
        tokenFailure = tokenFailureOf(err);
        logger?.warn({ err, tokenFailure }, 'fcm access token not obtained');
        throw err;
      }
    },
  };
  const app = initializeApp({ credential, projectId: account.projectId, ...(agent ? { httpAgent: agent } : {}) }, `herald-fcm-${randomUUID()}`);
  const messaging = getMessaging(app);
  if (agent) messaging.enableLegacyHttpTransport();

  const sends = trackSends('fcm');

  const sendChunk = async (chunk: Pending[], results: DeliveryResult[]): Promise<void> => {
    try {
      const response = await messaging.sendEach(chunk.map((p) => p.message));
      for (const [j, pending] of chunk.entries()) {
        const answer = response.responses[j];
        if (answer?.success) {
          results[pending.index] = answer.messageId === undefined ? { type: 'sent' } : { type: 'sent', providerId: answer.messageId };
          continue;
        }
        const result = answer
          ? classifyFcmError(answer.error, pending.delivery.attempt, tokenFailure)
          : classifyBatchError(undefined, pending.delivery.attempt);
        results[pending.index] = result;
        logger?.warn(
          { messageId: pending.delivery.message.id, uid: pending.delivery.recipient.uid, code: errorCode(answer?.error), result },
          'fcm send failed',
        );
      }
    } catch (err) {
      logger?.warn({ err, deliveries: chunk.length }, 'fcm sendEach failed as a whole');
      for (const pending of chunk) results[pending.index] = classifyBatchError(err, pending.delivery.attempt, tokenFailure);
    }
  };

  const deliverAll = async (batch: Delivery[]): Promise<DeliveryResult[]> => {
    const results = new Array<DeliveryResult>(batch.length);
    const pending: Pending[] = [];
    const now = Date.now();
    for (const [index, delivery] of batch.entries()) {
      const composed = composeFcmMessage(delivery, now);
      if (composed.ok) pending.push({ index, delivery, message: composed.message });
      else results[index] = composed.result;
    }
    for (let start = 0; start < pending.length; start += FCM_BATCH_LIMIT) await sendChunk(pending.slice(start, start + FCM_BATCH_LIMIT), results);
    return results;
  };

  return {
    name: 'fcm',

    async deliver(batch) {
      return sends.run(() => deliverAll(batch));
    },

    async close() {
      if (!(await sends.close())) return;
      await deleteApp(app);
      agent?.destroy();
    },
  };
}
