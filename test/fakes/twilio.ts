/**
 * A loopback Twilio Messages API for tests: an HTTPS server (the shared test certificate) on an
 * ephemeral port of 127.0.0.1 answering `POST /2010-04-01/Accounts/<sid>/Messages.json` as
 * Twilio does. Guarantees:
 *  - Basic auth must be `<accountSid>:<authToken>` and the path's sid the account's, else 401
 *    `{"code": 20003}` (recorded in `authFailures`, never in `messages`).
 *  - The form is parsed; a missing To (21604), From/MessagingServiceSid (21603) or Body (21602)
 *    is a 400 like Twilio's.
 *  - Scripted answers per `To` (`failNext`, `rejectNumber`): 400 + 21211, 429 + 20429 with
 *    Retry-After, 500…; each is used once (or for every request, `rejectNumber`), in order.
 *  - An accepted message is recorded (with its StatusCallback) and answered 201 with Twilio's
 *    JSON (`sid` SM…, `status` "queued", to, from, body, messaging_service_sid…).
 *  - `sendStatusCallback(sid, status, errorCode?)` POSTs a form callback to that message's
 *    StatusCallback URL, signed as Twilio signs (`twilio.getExpectedTwilioSignature` over the
 *    full URL and the fields), or with a wrong signature when asked.
 *  - `connections` counts TLS connections, so a test can check a client reuses its pool.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import twilio from 'twilio';
import { testCertificate } from './tls.js';

export interface FakeSms {
  sid: string;
  to: string;
  from?: string;
  messagingServiceSid?: string;
  body: string;
  statusCallback?: string;
  /** Every form field as sent. */
  form: Record<string, string>;
}

export interface ScriptedError {
  status: number;
  /** Twilio error code in the JSON body. */
  code?: number;
  message?: string;
  /** Sent as the Retry-After header. */
  retryAfter?: string;
}

export interface TwilioFake {
  /** `https://127.0.0.1:<port>`, the form of HERALD_TWILIO_BASE_URL. */
  url: string;
  accountSid: string;
  authToken: string;
  /** Accepted messages, in order. */
  messages: FakeSms[];
  /** Every Messages request, including refused ones: `To` and the status answered. */
  requests: Array<{ to: string | undefined; status: number }>;
  authFailures: number;
  connections: number;
  /** The next `times` sends to `to` get `error` instead of being accepted. */
  failNext(to: string, error: ScriptedError, times?: number): void;
  /** Every send to `to` is refused with 400 and `code` (21211 invalid To by default). */
  rejectNumber(to: string, code?: number): void;
  /** Resolves with the first accepted message matching `match` (waits up to `timeoutMs`). */
  waitFor(match: (sms: FakeSms) => boolean, timeoutMs?: number): Promise<FakeSms>;
  /** POSTs a status callback for message `sid` to its StatusCallback; resolves with Herald's answer. */
  sendStatusCallback(
    sid: string,
    status: 'queued' | 'sending' | 'sent' | 'delivered' | 'undelivered' | 'failed',
    errorCode?: number,
    options?: {
      /** Sign with a wrong token. */
      badSignature?: boolean;
      /** POST to this URL instead of the one signed (the message's StatusCallback): a tampered or replayed callback. */
      postTo?: string;
    },
  ): Promise<{ status: number; body: string }>;
  close(): Promise<void>;
}

export const newSid = (prefix: string): string => prefix + randomBytes(16).toString('hex');

export async function startTwilioFake(options: { accountSid?: string; authToken?: string } = {}): Promise<TwilioFake> {
  const accountSid = options.accountSid ?? newSid('AC');
  const authToken = options.authToken ?? randomBytes(16).toString('hex');
  const cert = testCertificate();
  const messages: FakeSms[] = [];
  const requests: TwilioFake['requests'] = [];
  const scripts = new Map<string, Array<{ error: ScriptedError; remaining: number }>>();
  let waiters: Array<() => void> = [];
  let authFailures = 0;
  let connections = 0;

  const expectedAuth = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`;
  const messagesPath = `/2010-04-01/Accounts/${accountSid}/Messages.json`;

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  const twilioError = (status: number, code: number, message: string) => ({
    code,
    message,
    more_info: `https://www.twilio.com/docs/errors/${code}`,
    status,
  });

  const nextScripted = (to: string): ScriptedError | undefined => {
    const queue = scripts.get(to);
    const head = queue?.[0];
    if (!queue || !head) return undefined;
    head.remaining -= 1;
    if (head.remaining <= 0) queue.shift();
    return head.error;
  };

  const server = https.createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0];
      if (req.method !== 'POST' || !/^\/2010-04-01\/Accounts\/[^/]+\/Messages\.json$/.test(path ?? '')) {
        send(res, 404, twilioError(404, 20404, 'The requested resource was not found'));
        return;
      }
      const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
      if (req.headers.authorization !== expectedAuth || path !== messagesPath) {
        authFailures += 1;
        requests.push({ to: form.To, status: 401 });
        send(res, 401, twilioError(401, 20003, 'Authenticate'), { 'www-authenticate': 'Basic realm="Twilio API"' });
        return;
      }
      const invalid = !form.To
        ? twilioError(400, 21604, "A 'To' phone number is required.")
        : !form.From && !form.MessagingServiceSid
          ? twilioError(400, 21603, "A 'From' phone number is required.")
          : !form.Body
            ? twilioError(400, 21602, 'Message body is required.')
            : undefined;
      if (invalid) {
        requests.push({ to: form.To, status: 400 });
        send(res, 400, invalid);
        return;
      }
      const to = form.To as string;
      const scripted = nextScripted(to);
      if (scripted) {
        requests.push({ to, status: scripted.status });
        const body =
          scripted.code !== undefined
            ? twilioError(scripted.status, scripted.code, scripted.message ?? 'scripted error')
            : { message: scripted.message ?? 'error' };
        send(res, scripted.status, body, scripted.retryAfter !== undefined ? { 'retry-after': scripted.retryAfter } : {});
        return;
      }
      const sid = newSid('SM');
      const sms: FakeSms = {
        sid,
        to,
        body: form.Body as string,
        form,
        ...(form.From ? { from: form.From } : {}),
        ...(form.MessagingServiceSid ? { messagingServiceSid: form.MessagingServiceSid } : {}),
        ...(form.StatusCallback ? { statusCallback: form.StatusCallback } : {}),
      };
      messages.push(sms);
      requests.push({ to, status: 201 });
      const now = new Date().toUTCString();
      send(res, 201, {
        account_sid: accountSid,
        api_version: '2010-04-01',
        body: sms.body,
        date_created: now,
        date_sent: null,
        date_updated: now,
        direction: 'outbound-api',
        error_code: null,
        error_message: null,
        from: sms.from ?? null,
        messaging_service_sid: sms.messagingServiceSid ?? null,
        num_media: '0',
        num_segments: '1',
        price: null,
        price_unit: 'USD',
        sid,
        status: sms.messagingServiceSid ? 'accepted' : 'queued',
        subresource_uris: { media: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}/Media.json` },
        to,
        uri: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}.json`,
      });
      const woken = waiters;
      waiters = [];
      for (const wake of woken) wake();
    });
  });
  server.on('secureConnection', () => {
    connections += 1;
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  const fake: TwilioFake = {
    url: `https://127.0.0.1:${port}`,
    accountSid,
    authToken,
    messages,
    requests,
    get authFailures() {
      return authFailures;
    },
    get connections() {
      return connections;
    },
    failNext(to, error, times = 1) {
      const queue = scripts.get(to) ?? [];
      queue.push({ error, remaining: times });
      scripts.set(to, queue);
    },
    rejectNumber(to, code = 21211) {
      const message = code === 21211 ? "The 'To' number is not a valid phone number." : 'scripted rejection';
      scripts.set(to, [{ error: { status: 400, code, message }, remaining: Number.POSITIVE_INFINITY }]);
    },
    async waitFor(match, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = messages.find(match);
        if (found) return found;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`twilio fake: no matching message after ${timeoutMs} ms; got ${JSON.stringify(messages.map((m) => m.to))}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    async sendStatusCallback(sid, status, errorCode, callbackOptions = {}) {
      const sms = messages.find((m) => m.sid === sid);
      if (!sms) throw new Error(`twilio fake: no message ${sid}`);
      const url = sms.statusCallback;
      if (!url) throw new Error(`twilio fake: message ${sid} has no StatusCallback`);
      const params: Record<string, string> = {
        AccountSid: accountSid,
        ApiVersion: '2010-04-01',
        From: sms.from ?? '+15005550006',
        MessageSid: sid,
        MessageStatus: status,
        SmsSid: sid,
        SmsStatus: status,
        To: sms.to,
        ...(sms.messagingServiceSid ? { MessagingServiceSid: sms.messagingServiceSid } : {}),
        ...(errorCode !== undefined ? { ErrorCode: String(errorCode) } : {}),
      };
      const signature = twilio.getExpectedTwilioSignature(callbackOptions.badSignature ? `${authToken}-wrong` : authToken, url, params);
      const response = await fetch(callbackOptions.postTo ?? url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature, 'user-agent': 'TwilioProxy/1.1' },
        body: new URLSearchParams(params).toString(),
      });
      return { status: response.status, body: await response.text() };
    },
    close() {
      for (const wake of waiters) wake();
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return fake;
}
