/** A 202 is never lost: kill -9 of the server mid-burst, restart, every accepted message is in its inbox. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventually, startChild, tempDataDir } from '../helpers/herald.js';

const UIDS = Array.from({ length: 10 }, (_, i) => `durable-${i}`);

describe('durability across kill -9', () => {
  it('keeps every accepted message and every scheduled one', async () => {
    const dataDir = tempDataDir();
    const first = await startChild({ HERALD_DATA_DIR: dataDir });
    const admin = await first.token('ops', { admin: true });

    const scheduled = await first.api('POST', '/api/v1/send', { token: admin, body: { msg: 'scheduled', uid: 'durable-later', opts: { delay: 3 } } });
    assert.equal(scheduled.status, 202);
    // Users are known from their first authenticated request; the broadcast reaches those known then.
    for (const uid of UIDS) await first.api('GET', '/api/v1/preferences', { token: await first.token(uid) });
    const broadcast = await first.api('POST', '/api/v1/broadcast', { token: admin, body: { msg: 'to all known', opts: { urgency: 'low' } } });
    assert.equal(broadcast.status, 202);

    const accepted = new Map<string, string>();
    let killed = false;
    let sent = 0;
    const worker = async () => {
      while (!killed) {
        const n = sent++;
        const uid = UIDS[n % UIDS.length] as string;
        try {
          const res = await first.api('POST', '/api/v1/send', { token: admin, body: { msg: `burst ${n}`, uid } });
          if (res.status === 202) accepted.set(res.body.id, uid);
        } catch {
          // The server died under this request: it was never answered 202, so it may be lost.
        }
      }
    };
    const workers = Array.from({ length: 16 }, worker);
    await eventually(async () => accepted.size >= 400, 30_000, '400 accepted');
    const exit = await first.kill('SIGKILL');
    killed = true;
    await Promise.all(workers);
    assert.equal(exit.signal, 'SIGKILL');

    const second = await startChild({ HERALD_DATA_DIR: dataDir });
    try {
      for (const uid of UIDS) {
        const token = await second.token(uid);
        const expected = [...accepted].filter(([, u]) => u === uid).map(([id]) => id);
        await eventually(
          async () => {
            const ids = new Set<string>();
            let cursor: string | null = null;
            do {
              const res: any = await second.api('GET', `/api/v1/messages?limit=200${cursor ? `&cursor=${cursor}` : ''}`, { token });
              for (const m of res.body.messages) ids.add(m.id);
              cursor = res.body.next;
            } while (cursor);
            const missing = expected.filter((id) => !ids.has(id));
            return missing.length === 0;
          },
          30_000,
          `every accepted message of ${uid} in its inbox`,
        );
      }
      // The broadcast accepted before the crash reached every user known then.
      for (const uid of UIDS) {
        const token = await second.token(uid);
        await eventually(
          async () => (await second.api('GET', `/api/v1/messages/${broadcast.body.id}`, { token })).status === 200,
          30_000,
          'broadcast recovered',
        );
      }
      const later = await second.token('durable-later');
      const found = await eventually(
        async () => {
          const res = await second.api('GET', '/api/v1/messages', { token: later });
          return res.body.messages.find((m: any) => m.id === scheduled.body.id);
        },
        30_000,
        'scheduled message fired after restart',
      );
      assert.equal(found.msg, 'scheduled');
    } finally {
      await second.kill('SIGTERM');
    }
  });
});
