/**
 * npm run demo — Herald with every channel working locally, against the loopback fakes of
 * test/fakes/ (real protocols: HTTPS web push with VAPID and aes128gcm, APNs over HTTP/2 with
 * ES256 tokens, FCM with OAuth2, SMTP, Twilio). Seeds a user `alice` with an email, a phone and
 * an iOS, an Android and a web device, prints commands to try, then prints what each provider
 * receives as it arrives. Fallback delays are short so escalation can be watched. Ctrl-C stops.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { mintToken } from '../src/auth/tokens.js';
import { makeApnsKey, startApnsFake } from '../test/fakes/apns.js';
import { startFcmFake, writeServiceAccount } from '../test/fakes/fcm.js';
import { startPushService } from '../test/fakes/push-service.js';
import { startSmtpFake } from '../test/fakes/smtp.js';
import { testCertificate } from '../test/fakes/tls.js';
import { startTwilioFake } from '../test/fakes/twilio.js';

const SECRET = 'herald-demo-secret-not-for-production';

const freePort = (preferred: number) =>
  new Promise<number>((resolve) => {
    const server = net.createServer();
    server.once('error', () => server.listen(0, '127.0.0.1'));
    server.once('listening', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.listen(preferred, '127.0.0.1');
  });

async function main() {
  const cert = testCertificate();
  const apnsKey = makeApnsKey();
  const account = writeServiceAccount({ projectId: 'herald-demo' });
  const [push, apns, fcm, smtp, twilio] = await Promise.all([
    startPushService(),
    startApnsFake(apnsKey),
    startFcmFake({ accounts: [account] }),
    startSmtpFake(),
    startTwilioFake(),
  ]);
  const port = await freePort(Number(process.env.HERALD_PORT ?? 8080));
  const url = `http://127.0.0.1:${port}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-demo-'));

  const herald: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve'], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      ...process.env,
      NODE_EXTRA_CA_CERTS: cert.certFile,
      // The loopback push service fake: allowed for development only (HERALD_WEBPUSH_ALLOW_PRIVATE).
      HERALD_WEBPUSH_ALLOW_PRIVATE: 'true',
      HERALD_PORT: String(port),
      HERALD_HOST: '127.0.0.1',
      HERALD_DATA_DIR: dataDir,
      HERALD_LOG_LEVEL: 'warn',
      HERALD_JWT_SECRET: SECRET,
      HERALD_PUBLIC_URL: url,
      HERALD_SMTP_URL: smtp.url,
      HERALD_APNS_KEY: apnsKey.key,
      HERALD_APNS_KEY_ID: apnsKey.keyId,
      HERALD_APNS_TEAM_ID: apnsKey.teamId,
      HERALD_APNS_TOPIC: 'dev.herald.demo',
      HERALD_APNS_HOST: apns.host,
      HERALD_FCM_SERVICE_ACCOUNT: account.path,
      HERALD_FCM_HOST: fcm.host,
      HERALD_TWILIO_ACCOUNT_SID: twilio.accountSid,
      HERALD_TWILIO_AUTH_TOKEN: twilio.authToken,
      HERALD_TWILIO_FROM: '+15550001111',
      HERALD_TWILIO_BASE_URL: twilio.url,
      HERALD_FALLBACK_SMS_DELAY: '10',
      HERALD_FALLBACK_EMAIL_DELAY: '15',
      HERALD_DIGEST_INTERVAL: '30',
    },
  });
  const stop = async () => {
    herald.kill('SIGTERM');
    await Promise.all([push.close(), apns.close(), fcm.close(), smtp.close(), twilio.close()]);
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  herald.once('exit', (code) => {
    console.error(`herald exited (${code})`);
    process.exit(1);
  });

  for (let i = 0; ; i++) {
    const up = await fetch(`${url}/api/v1/ping`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    if (i > 100) throw new Error('Herald did not start');
    await new Promise((r) => setTimeout(r, 100));
  }

  const admin = await mintToken(SECRET, { sub: 'ops', admin: true, ttlSeconds: 86_400 });
  const alice = await mintToken(SECRET, { sub: 'alice', ttlSeconds: 86_400 });
  const call = (method: string, route: string, token: string, body: unknown) =>
    fetch(url + route, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await call('PUT', '/api/v1/users/alice', admin, { email: 'alice@example.com', phone: '+33612345678', attributes: { plan: 'pro' } });
  await call('POST', '/api/v1/native/subscribe', alice, { os: 'ios', token: 'a1'.repeat(32) });
  await call('POST', '/api/v1/native/subscribe', alice, { os: 'android', token: 'demo-fcm-registration-token-0001' });
  await call('POST', '/api/v1/native/subscribe', alice, push.subscription());

  console.log(`
Herald demo on ${url} — every provider is a local fake. Try, in another shell:

  export ADMIN=${admin}
  export ALICE=${alice}

  # alice is offline: push to her iPhone, Android phone and browser; SMS after 10 s if unread
  curl -H "Authorization: Bearer $ADMIN" -d '{"msg":"Your ride is here","uid":"alice","opts":{"urgency":"high","title":"Ride"}}' ${url}/api/v1/send

  # normal urgency: push now, email after 15 s unless read
  curl -H "Authorization: Bearer $ADMIN" -d '{"msg":"New comment on your post","uid":"alice"}' ${url}/api/v1/send

  # mark it read to cancel the email: {"ids":["<id>"],"state":"read"}
  curl -H "Authorization: Bearer $ALICE" -d '{"ids":["<id>"],"state":"read"}' ${url}/api/v1/receipts

  # what happened to a message, channel by channel
  curl -H "Authorization: Bearer $ADMIN" ${url}/api/v1/messages/<id>

Deliveries appear below as the fakes receive them.
`);

  const seen = { push: 0, apns: 0, fcm: 0, smtp: 0, twilio: 0 };
  setInterval(() => {
    for (const r of push.records.slice(seen.push))
      console.log(`[web push] ${r.status} urgency=${r.headers.urgency} ttl=${r.headers.ttl} ${JSON.stringify(r.payload)}`);
    for (const r of apns.received.slice(seen.apns)) console.log(`[apns]     ${r.status} priority=${r.headers.priority} ${JSON.stringify(r.payload)}`);
    for (const r of fcm.requests.slice(seen.fcm))
      console.log(`[fcm]      ${r.status} priority=${r.message.android?.priority} ${JSON.stringify(r.message.notification)}`);
    for (const m of smtp.received.slice(seen.smtp)) console.log(`[email]    to=${m.envelope.to.join(',')} subject=${JSON.stringify(m.parsed.subject)}`);
    for (const m of twilio.messages.slice(seen.twilio)) console.log(`[sms]      to=${m.to} ${JSON.stringify(m.body)}`);
    seen.push = push.records.length;
    seen.apns = apns.received.length;
    seen.fcm = fcm.requests.length;
    seen.smtp = smtp.received.length;
    seen.twilio = twilio.messages.length;
  }, 300);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
