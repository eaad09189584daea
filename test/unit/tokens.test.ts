/** Token verification with the verified-token cache: a cache never widens what is accepted. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { TokenRejectedError } from '../../src/auth/errors.js';
import { createTokenVerifier, mintToken } from '../../src/auth/tokens.js';
import { createVerifiedCache } from '../../src/auth/verified-cache.js';
import { loadConfig } from '../../src/config.js';
import { problemOf } from '../../src/problem.js';

const SECRET = 'unit-test-secret-0123456789abcdef';

async function verifierWithClock() {
  const clock = { now: Date.now() };
  const verifier = await createTokenVerifier(loadConfig({}), SECRET, { now: () => clock.now });
  return { verifier, clock };
}

/** Rejected with a TokenRejectedError saying why, which the API answers 401 HERALD_UNAUTHORIZED. */
const rejectsWith = (promise: Promise<unknown>, detail: RegExp) =>
  assert.rejects(
    promise,
    (error: unknown) => error instanceof TokenRejectedError && problemOf(error).body.code === 'HERALD_UNAUTHORIZED' && detail.test(error.message),
  );

/** The same token with the first character of its signature changed. */
function withOtherSignature(token: string): string {
  const at = token.lastIndexOf('.') + 1;
  const swapped = token[at] === 'A' ? 'B' : 'A';
  return `${token.slice(0, at)}${swapped}${token.slice(at + 1)}`;
}

describe('token verifier', () => {
  it('answers a token it verified before from the cache: the same caller', async () => {
    const { verifier } = await verifierWithClock();
    const token = await mintToken(SECRET, { sub: 'alice', admin: true });
    const first = await verifier.verify(token);
    assert.deepEqual(first, { uid: 'alice', admin: true });
    assert.equal(await verifier.verify(token), first);
  });

  it('rejects a cached token once it expired, to the millisecond', async () => {
    const { verifier, clock } = await verifierWithClock();
    const token = await mintToken(SECRET, { sub: 'bob', ttlSeconds: 60 });
    const expiresAt = (decodeJwt(token).exp as number) * 1000;
    await verifier.verify(token);
    clock.now = expiresAt - 1;
    assert.deepEqual(await verifier.verify(token), { uid: 'bob', admin: false });
    clock.now = expiresAt;
    await rejectsWith(verifier.verify(token), /expired/);
    clock.now = expiresAt + 3_600_000;
    await rejectsWith(verifier.verify(token), /expired/);
  });

  it('never answers a token with another signature from the cache', async () => {
    const { verifier } = await verifierWithClock();
    const token = await mintToken(SECRET, { sub: 'carol', admin: true });
    await verifier.verify(token);
    await rejectsWith(verifier.verify(withOtherSignature(token)), /signature/);
    // The same claims signed with another secret.
    const forged = await mintToken('another-secret-0123456789abcdef', { sub: 'carol', admin: true });
    await rejectsWith(verifier.verify(forged), /signature/);
    // Failures are not remembered either, and the genuine token still verifies.
    await rejectsWith(verifier.verify(forged), /signature/);
    assert.deepEqual(await verifier.verify(token), { uid: 'carol', admin: true });
  });
});

describe('verified-token cache', () => {
  it('keeps an entry no longer than maxAgeMs, and never past its expiry', () => {
    const clock = { now: 1_000_000 };
    const cache = createVerifiedCache<string>({ now: () => clock.now, maxAgeMs: 100 });
    cache.set('long', 'a', clock.now + 10_000);
    cache.set('short', 'b', clock.now + 10);
    cache.set('none', 'c', undefined);
    cache.set('past', 'd', clock.now);
    assert.equal(cache.get('past'), undefined);
    clock.now += 9;
    assert.deepEqual([cache.get('long'), cache.get('short'), cache.get('none')], ['a', 'b', 'c']);
    clock.now += 1;
    assert.equal(cache.get('short'), undefined);
    clock.now += 90;
    assert.deepEqual([cache.get('long'), cache.get('none')], [undefined, undefined]);
  });

  it('holds at most maxEntries, dropping the oldest', () => {
    const cache = createVerifiedCache<number>({ now: () => 0, maxEntries: 2 });
    cache.set('a', 1, 1_000);
    cache.set('b', 2, 1_000);
    cache.set('c', 3, 1_000);
    assert.deepEqual([cache.get('a'), cache.get('b'), cache.get('c')], [undefined, 2, 3]);
  });
});
