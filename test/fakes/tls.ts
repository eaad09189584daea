/**
 * One self-signed certificate for every TLS fake (APNs, FCM, push service, Twilio), made with
 * openssl once per process. Its names cover loopback and the providers' real host names, so a
 * client that keeps the real SNI (firebase-admin) still verifies it. Child processes trust it
 * through NODE_EXTRA_CA_CERTS=certFile, as production would trust a private CA.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers/temp-dir.js';

export interface TestCertificate {
  key: string;
  cert: string;
  certFile: string;
}

let cached: TestCertificate | undefined;

export function testCertificate(): TestCertificate {
  if (cached) return cached;
  const dir = tempDir('herald-tls');
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  const names = [
    'IP:127.0.0.1',
    'DNS:localhost',
    'DNS:fcm.googleapis.com',
    'DNS:oauth2.googleapis.com',
    'DNS:api.sandbox.push.apple.com',
    'DNS:api.push.apple.com',
    'DNS:api.twilio.com',
  ];
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      '/CN=herald-fakes',
      '-addext',
      `subjectAltName=${names.join(',')}`,
    ],
    { stdio: 'ignore' },
  );
  cached = { key: fs.readFileSync(keyFile, 'utf8'), cert: fs.readFileSync(certFile, 'utf8'), certFile };
  return cached;
}
