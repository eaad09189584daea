/**
 * Secrets Herald generates for itself in embedded mode, kept in `<dataDir>/secrets.json`
 * (mode 0600) so that tokens minted by `herald token` and VAPID subscriptions survive restarts.
 * A configured value always wins over the generated one.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import webpush from 'web-push';

export interface Secrets {
  /** HS256 key of API tokens (only used when HERALD_JWT_ALGORITHM is HS256). */
  jwtSecret: string;
  /** HS256 key of WebSocket tickets: internal, never shared with token issuers. */
  ticketSecret: string;
  vapid: { publicKey: string; privateKey: string };
}

export function loadSecrets(
  dataDir: string,
  configured: { jwtSecret?: string; ticketSecret?: string; vapidPublicKey?: string; vapidPrivateKey?: string },
): Secrets {
  const file = path.join(dataDir, 'secrets.json');
  let stored: Partial<Secrets> = {};
  if (fs.existsSync(file)) stored = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<Secrets>;

  const generated: Secrets = {
    jwtSecret: stored.jwtSecret ?? randomBytes(32).toString('base64url'),
    ticketSecret: stored.ticketSecret ?? randomBytes(32).toString('base64url'),
    vapid: stored.vapid ?? webpush.generateVAPIDKeys(),
  };
  if (!stored.jwtSecret || !stored.ticketSecret || !stored.vapid) {
    fs.mkdirSync(dataDir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(generated, null, 2), { mode: 0o600 });
    fs.renameSync(tmp, file);
  }
  return {
    jwtSecret: configured.jwtSecret ?? generated.jwtSecret,
    ticketSecret: configured.ticketSecret ?? generated.ticketSecret,
    vapid:
      configured.vapidPublicKey && configured.vapidPrivateKey
        ? { publicKey: configured.vapidPublicKey, privateKey: configured.vapidPrivateKey }
        : generated.vapid,
  };
}
