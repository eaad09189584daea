/**
 * The Presence contract (src/presence/port.ts), as a node:test suite every Presence
 * adapter must pass unchanged. Only the port is used; expiry is checked by touching with a short
 * TTL and looking again well after it (a pause, never a timing assertion).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Presence } from '../../src/presence/port.js';

export interface PresenceUnderTest {
  presence: Presence;
  cleanup(): Promise<void>;
}

const uid = (): string => `u-${randomUUID()}`;
const holder = (): string => `gw-${randomUUID().slice(0, 8)}`;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const LONG = 60_000;

export function presenceContract(name: string, open: () => Promise<PresenceUnderTest>): void {
  describe(`Presence contract: ${name}`, { timeout: 30_000 }, () => {
    let env: PresenceUnderTest;
    let presence: Presence;

    beforeEach(async () => {
      env = await open();
      presence = env.presence;
    });

    afterEach(async () => {
      await env.cleanup();
    });

    it('knows nobody until touched', async () => {
      const a = uid();
      assert.deepEqual(await presence.onlineAmong([a]), new Set());
      assert.deepEqual(await presence.onlineAmong([]), new Set());
    });

    it('answers exactly the online subset of the uids asked about', async () => {
      const [a, b, c, d] = [uid(), uid(), uid(), uid()];
      const h = holder();
      await presence.touch(a, h, LONG);
      await presence.touch(c, h, LONG);
      await presence.touch(d, h, LONG);
      assert.deepEqual(await presence.onlineAmong([a, b, c]), new Set([a, c]));
    });

    it('keeps a user online while any holder still holds them', async () => {
      const a = uid();
      const [h1, h2] = [holder(), holder()];
      await presence.touch(a, h1, LONG);
      await presence.touch(a, h2, LONG);
      await presence.leave(a, h1);
      assert.deepEqual(await presence.onlineAmong([a]), new Set([a]));
      await presence.leave(a, h2);
      assert.deepEqual(await presence.onlineAmong([a]), new Set());
    });

    it('ignores a leave from a holder that never touched', async () => {
      const a = uid();
      const h = holder();
      await presence.touch(a, h, LONG);
      await presence.leave(a, holder());
      await presence.leave(uid(), h);
      assert.deepEqual(await presence.onlineAmong([a]), new Set([a]));
    });

    it('forgets a user whose TTL ran out, and a touch brings them back', async () => {
      const [a, b] = [uid(), uid()];
      const h = holder();
      await presence.touch(a, h, 50);
      await presence.touch(b, h, LONG);
      await sleep(200);
      assert.deepEqual(await presence.onlineAmong([a, b]), new Set([b]));
      await presence.touch(a, h, LONG);
      assert.deepEqual(await presence.onlineAmong([a, b]), new Set([a, b]));
    });

    it('lets a later touch extend the TTL of an earlier one', async () => {
      const a = uid();
      const h = holder();
      await presence.touch(a, h, 50);
      await presence.touch(a, h, LONG);
      await sleep(200);
      assert.deepEqual(await presence.onlineAmong([a]), new Set([a]));
    });

    it('expires holders independently', async () => {
      const a = uid();
      const [h1, h2] = [holder(), holder()];
      await presence.touch(a, h1, 50);
      await presence.touch(a, h2, LONG);
      await sleep(200);
      await presence.leave(a, h2);
      assert.deepEqual(await presence.onlineAmong([a]), new Set(), 'the expired holder kept the user online');
    });
  });
}
