/**
 * A browser-like web push subscription (real P-256 keys) whose endpoint is a loopback port where
 * nothing listens: registering it needs HERALD_WEBPUSH_ALLOW_PRIVATE, and a push to it fails
 * to connect. For tests of the registration routes, not of delivery (test/fakes/push-service.ts).
 */
import { createECDH } from 'node:crypto';

export function unreachableSubscription(path: string) {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return {
    endpoint: `https://127.0.0.1:1/push/${path}`,
    expirationTime: null,
    keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: 'abcdefghijklmnopqrstuv' },
  };
}
