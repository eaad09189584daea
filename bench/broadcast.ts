/**
 * broadcast cost: how a broadcast's server cost grows with the number of users. For each N, an
 * embedded Herald whose database holds N users (written straight into its migrated database
 * before it starts: no sockets, no devices, no addresses) gets one warm-up broadcast, then one
 * measured broadcast: server CPU (user + system) from just before the POST until the process is
 * idle again, over 20 broadcasts one after the other (the mean; the bench's own polling requests
 * are in it, the same at every N); the longest time from a 202 until a sample of inboxes (the
 * first, middle and last user) lists it; and the longest until the message is `triaged`. The reference is the same figure at
 * the smallest N, in the same run: the ratio is how the cost grows with the audience.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mintToken } from '../src/auth/tokens.js';
import { migrate, openDatabase } from '../src/sqlite/database.js';
import { BENCH_SECRET, cpuSeconds, startHerald, waitIdle } from './lib/proc.js';
import type { ResultRow } from './lib/stats.js';

export const BROADCAST_GROWTH_TARGET = 3;
export const INBOX_VISIBLE_TARGET_MS = 1000;
/** Measured broadcasts per size. */
const ROUNDS = 20;

export interface BroadcastCostOptions {
  sizes: number[];
  log(line: string): void;
}

interface Measured {
  users: number;
  cpuMs: number;
  visibleMs: number;
  triagedMs: number;
}

const uidOf = (i: number) => `u${String(i).padStart(7, '0')}`;

/** A data dir whose database holds `users` users created an hour ago. */
function seededDataDir(users: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-bench-broadcast-'));
  const db = openDatabase(path.join(dir, 'herald.db'));
  migrate(db);
  const created = Date.now() - 3_600_000;
  const insert = db.prepare("INSERT INTO users (uid, attributes, created_at, updated_at) VALUES (?, '{}', ?, ?)");
  db.transaction(() => {
    for (let i = 0; i < users; i++) insert.run(uidOf(i), created, created);
  })();
  db.close();
  return dir;
}

async function measure(users: number, log: (line: string) => void): Promise<Measured> {
  const dataDir = seededDataDir(users);
  const server = await startHerald({ HERALD_DATA_DIR: dataDir, HERALD_RATE_SEND: '0', HERALD_RATE_SEND_BURST: '0' });
  try {
    const admin = await mintToken(BENCH_SECRET, { sub: 'bench-admin', admin: true, ttlSeconds: 3600 });
    const sample = await Promise.all([0, Math.floor(users / 2), users - 1].map((i) => mintToken(BENCH_SECRET, { sub: uidOf(i), ttlSeconds: 3600 })));
    const broadcast = async (msg: string) => {
      const res = await fetch(`${server.url}/api/v1/broadcast`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ msg }),
      });
      if (res.status !== 202) throw new Error(`broadcast answered ${res.status}`);
      return ((await res.json()) as { id: string }).id;
    };
    const lists = async (token: string, id: string) => {
      const res = await fetch(`${server.url}/api/v1/messages?limit=1`, { headers: { authorization: `Bearer ${token}` } });
      return ((await res.json()) as { messages: Array<{ id: string }> }).messages[0]?.id === id;
    };
    const status = async (id: string) => {
      const res = await fetch(`${server.url}/api/v1/messages/${id}`, { headers: { authorization: `Bearer ${admin}` } });
      return ((await res.json()) as { status: string }).status;
    };
    await broadcast('warm-up');
    await waitIdle(server.pid, { windowMs: 300, maxMs: 120_000 });

    // /proc counts CPU in 10 ms ticks: ROUNDS broadcasts, one after the other, share one reading.
    const cpu0 = cpuSeconds(server.pid);
    let visibleMs = 0;
    let triagedMs = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const id = await broadcast(`measured ${round}`);
      const answered = performance.now();
      let visible: number | undefined;
      let triaged: number | undefined;
      while (triaged === undefined || visible === undefined) {
        if (performance.now() - answered > 120_000) throw new Error(`broadcast ${id} not in the inboxes and triaged within 120 s`);
        if (visible === undefined && (await Promise.all(sample.map((token) => lists(token, id)))).every(Boolean)) visible = performance.now() - answered;
        if (triaged === undefined && (await status(id)) === 'triaged') triaged = performance.now() - answered;
      }
      visibleMs = Math.max(visibleMs, visible);
      triagedMs = Math.max(triagedMs, triaged);
    }
    await waitIdle(server.pid, { windowMs: 300, maxMs: 120_000 });
    const cpuMs = ((cpuSeconds(server.pid) - cpu0) * 1000) / ROUNDS;
    log(
      `  ${users.toLocaleString('en-US')} users: server CPU ${cpuMs.toFixed(1)} ms per broadcast (mean of ${ROUNDS}, the polling included), ` +
        `in the sampled inboxes ≤ ${visibleMs.toFixed(1)} ms after the 202, triaged ≤ ${triagedMs.toFixed(1)} ms`,
    );
    return { users, cpuMs, visibleMs, triagedMs };
  } finally {
    await server.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function runBroadcastCost(options: BroadcastCostOptions): Promise<ResultRow[]> {
  options.log(`broadcast cost: one broadcast to ${options.sizes.map((n) => n.toLocaleString('en-US')).join(' / ')} users (no sockets, no devices)`);
  const results: Measured[] = [];
  for (const users of options.sizes) results.push(await measure(users, options.log));
  const smallest = results[0] as Measured;
  const rows: ResultRow[] = [];
  for (const result of results) {
    const growth = result.cpuMs / smallest.cpuMs;
    const isLargest = result === results[results.length - 1] && results.length > 1;
    rows.push(
      {
        bench: 'broadcast',
        metric: `server CPU, ${result.users.toLocaleString('en-US')} users`,
        herald: Number(result.cpuMs.toFixed(1)),
        reference: Number(smallest.cpuMs.toFixed(1)),
        referenceName: `${smallest.users.toLocaleString('en-US')} users`,
        unit: 'ms',
        ratio: Number(growth.toFixed(2)),
        ...(isLargest ? { target: `≤ ${BROADCAST_GROWTH_TARGET}× the smallest`, pass: growth <= BROADCAST_GROWTH_TARGET } : {}),
      },
      {
        bench: 'broadcast',
        metric: `in every sampled inbox after the 202 (the slowest of 20), ${result.users.toLocaleString('en-US')} users`,
        herald: Number(result.visibleMs.toFixed(1)),
        unit: 'ms',
        target: `≤ ${INBOX_VISIBLE_TARGET_MS} ms`,
        pass: result.visibleMs <= INBOX_VISIBLE_TARGET_MS,
        note: `triaged ≤ ${result.triagedMs.toFixed(0)} ms`,
      },
    );
  }
  return rows;
}
