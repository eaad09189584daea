/**
 * Token options: RS256/ES256 by public key or JWKS (https only; an outage is 503), issuer and
 * audience, a custom admin claim, required `exp` and a maximum age; shutdown answers 503.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { testCertificate } from '../fakes/tls.js';
import { startChild, startInProcess } from '../helpers/herald.js';

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

const sign = (
  keys: KeyPair,
  alg: string,
  claims: Record<string, unknown>,
  options: { iss?: string; aud?: string; sub?: string; kid?: string; exp?: boolean; iat?: number } = {},
) => {
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg, ...(options.kid ? { kid: options.kid } : {}) })
    .setSubject(options.sub ?? 'alice')
    .setIssuedAt(options.iat);
  if (options.exp !== false) jwt.setExpirationTime('10m');
  if (options.iss) jwt.setIssuer(options.iss);
  if (options.aud) jwt.setAudience(options.aud);
  return jwt.sign(keys.privateKey);
};

describe('ES256 with a public key, issuer and audience', () => {
  let h: Awaited<ReturnType<typeof startInProcess>>;
  let keys: KeyPair;
  before(async () => {
    keys = await generateKeyPair('ES256', { extractable: true });
    h = await startInProcess({
      HERALD_JWT_ALGORITHM: 'ES256',
      HERALD_JWT_PUBLIC_KEY: await exportSPKI(keys.publicKey),
      HERALD_JWT_ISSUER: 'https://id.example.com',
      HERALD_JWT_AUDIENCE: 'herald',
    });
  });
  after(() => h.stop());

  it('accepts a token with the right issuer and audience', async () => {
    const token = await sign(keys, 'ES256', {}, { iss: 'https://id.example.com', aud: 'herald' });
    assert.equal((await h.api('GET', '/api/v1/preferences', { token })).status, 200);
  });

  it('rejects a wrong issuer, a wrong audience, another key, and HS256', async () => {
    const wrongIss = await sign(keys, 'ES256', {}, { iss: 'https://evil.example.com', aud: 'herald' });
    const res = await h.api('GET', '/api/v1/preferences', { token: wrongIss });
    assert.equal(res.status, 401);
    assert.match(res.body.detail, /iss/);
    assert.equal(
      (await h.api('GET', '/api/v1/preferences', { token: await sign(keys, 'ES256', {}, { iss: 'https://id.example.com', aud: 'other' }) })).status,
      401,
    );
    const other = await generateKeyPair('ES256');
    assert.equal(
      (await h.api('GET', '/api/v1/preferences', { token: await sign(other, 'ES256', {}, { iss: 'https://id.example.com', aud: 'herald' }) })).status,
      401,
    );
    const hs = await h.token('alice');
    assert.equal((await h.api('GET', '/api/v1/preferences', { token: hs })).status, 401);
  });
});

describe('RS256 from an https JWKS URL with a custom admin claim', () => {
  let h: Awaited<ReturnType<typeof startChild>>;
  let keys: KeyPair;
  let jwks: https.Server;
  let jwksUrl: string;
  before(async () => {
    keys = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    const tls = testCertificate();
    jwks = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
      if (req.url?.startsWith('/down')) {
        res.writeHead(502).end('bad gateway');
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const { port } = jwks.address() as AddressInfo;
    jwksUrl = `https://127.0.0.1:${port}`;
    // A child process, so that it trusts the test CA the way production trusts a private one.
    h = await startChild({
      NODE_EXTRA_CA_CERTS: tls.certFile,
      HERALD_JWT_ALGORITHM: 'RS256',
      HERALD_JWT_JWKS_URL: `${jwksUrl}/.well-known/jwks.json`,
      HERALD_ADMIN_CLAIM: 'groups=herald-admins',
    });
  });
  after(async () => {
    await h.kill('SIGTERM');
    jwks.close();
  });

  it('makes a token admin when its claim array holds the configured value', async () => {
    const adminToken = await sign(keys, 'RS256', { groups: ['staff', 'herald-admins'] }, { kid: 'k1', sub: 'ops' });
    assert.equal((await h.api('POST', '/api/v1/broadcast', { token: adminToken, body: { msg: 'hi' } })).status, 202);
    const roleAdmin = await sign(keys, 'RS256', { role: 'admin', groups: ['staff'] }, { kid: 'k1', sub: 'eve' });
    assert.equal((await h.api('POST', '/api/v1/broadcast', { token: roleAdmin, body: { msg: 'hi' } })).status, 403, 'the default claim means nothing here');
  });

  it('answers 503 with Retry-After while the JWKS answers errors or cannot be reached, and 401 for a key it does not hold', async () => {
    const token = await sign(keys, 'RS256', {}, { kid: 'k1', sub: 'bob' });
    const tls = testCertificate();
    for (const url of [`${jwksUrl}/down/jwks.json`, 'https://127.0.0.1:1/jwks.json']) {
      const down = await startChild({ NODE_EXTRA_CA_CERTS: tls.certFile, HERALD_JWT_ALGORITHM: 'RS256', HERALD_JWT_JWKS_URL: url });
      try {
        const answer = await down.api('GET', '/api/v1/preferences', { token });
        assert.equal(answer.status, 503, url);
        assert.equal(answer.body.code, 'HERALD_UNAVAILABLE');
        assert.ok(Number(answer.headers.get('retry-after')) >= 1);
      } finally {
        await down.kill('SIGTERM');
      }
    }
    const unknownKid = await sign(keys, 'RS256', {}, { kid: 'k2', sub: 'bob' });
    assert.equal((await h.api('GET', '/api/v1/preferences', { token: unknownKid })).status, 401);
  });
});

describe('token lifetime', () => {
  let h: Awaited<ReturnType<typeof startInProcess>>;
  let keys: KeyPair;
  before(async () => {
    keys = await generateKeyPair('ES256', { extractable: true });
    h = await startInProcess({ HERALD_JWT_ALGORITHM: 'ES256', HERALD_JWT_PUBLIC_KEY: await exportSPKI(keys.publicKey), HERALD_JWT_MAX_AGE: '3600' });
  });
  after(() => h.stop());

  it('refuses a token without exp, and one issued longer ago than HERALD_JWT_MAX_AGE', async () => {
    const forever = await h.api('GET', '/api/v1/preferences', { token: await sign(keys, 'ES256', {}, { exp: false }) });
    assert.equal(forever.status, 401);
    assert.match(forever.body.detail, /exp/);
    const old = await h.api('GET', '/api/v1/preferences', { token: await sign(keys, 'ES256', {}, { iat: Math.floor(Date.now() / 1000) - 7200 }) });
    assert.equal(old.status, 401);
    assert.equal((await h.api('GET', '/api/v1/preferences', { token: await sign(keys, 'ES256', {}) })).status, 200);
  });

  it('accepts a token without exp only when HERALD_JWT_REQUIRE_EXP=false', async () => {
    const lax = await startInProcess({
      HERALD_JWT_ALGORITHM: 'ES256',
      HERALD_JWT_PUBLIC_KEY: await exportSPKI(keys.publicKey),
      HERALD_JWT_REQUIRE_EXP: 'false',
    });
    try {
      assert.equal((await lax.api('GET', '/api/v1/preferences', { token: await sign(keys, 'ES256', {}, { exp: false }) })).status, 200);
    } finally {
      await lax.stop();
    }
  });
});

describe('shutdown', () => {
  it('answers 503 with Retry-After to requests arriving while it drains', async () => {
    const h = await startInProcess();
    const token = await h.token('alice');
    // Open a keep-alive connection first, so the next request reaches the server after it stops listening.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      new Promise<{ status: number; retryAfter: string | undefined; body: string }>((resolve, reject) => {
        http
          .get(`${h.url}/api/v1/preferences`, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
            let body = '';
            res.on('data', (c) => {
              body += c;
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], body }));
          })
          .on('error', reject);
      });
    assert.equal((await get()).status, 200);
    const stopping = h.stop();
    const during = await get();
    assert.equal(during.status, 503);
    assert.equal(during.retryAfter, '1');
    assert.equal(JSON.parse(during.body).code, 'HERALD_UNAVAILABLE');
    await stopping;
    agent.destroy();
  });
});
