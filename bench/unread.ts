/**
 * inbox read cost: how GET /api/v1/messages/count?state=unread, and a page of GET
 * /api/v1/messages, grow with the broadcasts a user has seen. For each N, an embedded Herald whose database holds READERS users created
 * before N broadcasts (a minute apart, written straight into its migrated database before it
 * starts), each of whom has read all but the last UNREAD. After a warm-up on the first reader,
 * each other reader's first count starts from the user's creation (no unread floor yet: the
 * reference, what every count cost before floors; their median), and the next COUNTS of one of
 * them from the floor that count wrote (src/store/unread-floors.ts; their median). Times per
 * count over HTTP on loopback; the floored count at the largest N over the smallest is how that
 * cost grows with the broadcasts. Then PAGES pages of the newest 50 (`limit=50`) of that reader,
 * their median, beside the same at the smallest N.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { v7 as uuidv7 } from 'uuid';
import { mintToken } from '../src/auth/tokens.js';
import { migrate, openDatabase } from '../src/sqlite/database.js';
import { BENCH_SECRET, startHerald } from './lib/proc.js';
import type { ResultRow } from './lib/stats.js';
import { summarize } from './lib/stats.js';

export const UNREAD_GROWTH_TARGET = 3;
/** Broadcasts left unread, the newest ones. */
const UNREAD = 5;
/** Measured counts per size, after the first. */
const COUNTS = 50;
/** Pages of the inbox measured per size. */
const PAGES = 20;
/** Users of the same history: one to warm up, the others' first counts are the reference. */
const READERS = 6;
const MINUTE = 60_000;

export interface UnreadCostOptions {
  sizes: number[];
  log(line: string): void;
}

interface Measured {
  broadcasts: number;
  firstMs: number;
  flooredMs: number;
  pageMs: number;
}

const readerOf = (i: number) => `reader-${i}`;

/** A data dir whose database holds READERS users and `broadcasts` broadcasts, each read by them all but the last UNREAD. */
function seededDataDir(broadcasts: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-bench-unread-'));
  const db = openDatabase(path.join(dir, 'herald.db'));
  migrate(db);
  const start = Date.now() - (broadcasts + 10) * MINUTE;
  const message = db.prepare(
    "INSERT INTO messages (id, sender, status, cursor, urgency, created_at, body) VALUES (?, 'bench-admin', 'triaged', NULL, 'normal', ?, ?)",
  );
  const entry = db.prepare("INSERT INTO timeline_entries (timeline, message_id, posted_at) VALUES ('everyone', ?, ?)");
  const read = db.prepare('INSERT INTO timeline_state (uid, message_id, delivered_at, read_at) VALUES (?, ?, ?, ?)');
  const user = db.prepare("INSERT INTO users (uid, attributes, created_at, updated_at) VALUES (?, '{}', ?, ?)");
  db.transaction(() => {
    for (let r = 0; r < READERS; r++) user.run(readerOf(r), start - 1, start - 1);
    for (let i = 0; i < broadcasts; i++) {
      const at = start + i * MINUTE;
      const id = uuidv7({ msecs: at });
      const body = { id, msg: `broadcast ${i}`, target: { kind: 'everyone' }, urgency: 'normal', sender: 'bench-admin', createdAt: at };
      message.run(id, at, JSON.stringify(body));
      entry.run(id, at);
      if (i < broadcasts - UNREAD) for (let r = 0; r < READERS; r++) read.run(readerOf(r), id, at + 1, at + 1);
    }
  })();
  db.close();
  return dir;
}

async function measure(broadcasts: number, log: (line: string) => void): Promise<Measured> {
  const dataDir = seededDataDir(broadcasts);
  const server = await startHerald({ HERALD_DATA_DIR: dataDir });
  try {
    const tokens = await Promise.all(Array.from({ length: READERS }, (_, r) => mintToken(BENCH_SECRET, { sub: readerOf(r), ttlSeconds: 3600 })));
    const count = async (token: string): Promise<number> => {
      const started = performance.now();
      const res = await fetch(`${server.url}/api/v1/messages/count?state=unread`, { headers: { authorization: `Bearer ${token}` } });
      const body = (await res.json()) as { count?: number };
      if (res.status !== 200 || body.count !== UNREAD) throw new Error(`count: ${res.status} ${JSON.stringify(body)} (expected ${UNREAD})`);
      return performance.now() - started;
    };
    const [warm, ...readers] = tokens as [string, ...string[]];
    for (let i = 0; i < 3; i++) await count(warm);
    const firsts: number[] = [];
    for (const token of readers) firsts.push(await count(token));
    const firstMs = summarize(firsts).p50;
    const times: number[] = [];
    for (let i = 0; i < COUNTS; i++) times.push(await count(readers[0] as string));
    const flooredMs = summarize(times).p50;
    const pages: number[] = [];
    for (let i = 0; i < PAGES; i++) {
      const started = performance.now();
      const res = await fetch(`${server.url}/api/v1/messages?limit=50`, { headers: { authorization: `Bearer ${readers[0]}` } });
      const body = (await res.json()) as { messages?: unknown[] };
      if (res.status !== 200 || body.messages?.length !== 50) throw new Error(`page: ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
      pages.push(performance.now() - started);
    }
    const pageMs = summarize(pages).p50;
    log(
      `  ${broadcasts.toLocaleString('en-US')} broadcasts: first counts (no floor) p50 ${firstMs.toFixed(2)} ms, then from the floor p50 ${flooredMs.toFixed(2)} ms; a page of 50 p50 ${pageMs.toFixed(2)} ms`,
    );
    return { broadcasts, firstMs, flooredMs, pageMs };
  } finally {
    await server.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function runUnreadCost(options: UnreadCostOptions): Promise<ResultRow[]> {
  options.log(`inbox reads: a user who read all but ${UNREAD} of ${options.sizes.map((n) => n.toLocaleString('en-US')).join(' / ')} broadcasts`);
  const results: Measured[] = [];
  for (const broadcasts of options.sizes) results.push(await measure(broadcasts, options.log));
  const smallest = results[0] as Measured;
  const rows: ResultRow[] = [];
  for (const result of results) {
    const growth = result.flooredMs / smallest.flooredMs;
    const isLargest = result === results[results.length - 1] && results.length > 1;
    rows.push({
      bench: 'unread',
      metric: `count, ${result.broadcasts.toLocaleString('en-US')} broadcasts (from the floor)`,
      herald: Number(result.flooredMs.toFixed(2)),
      reference: Number(result.firstMs.toFixed(2)),
      referenceName: 'first count, no floor (p50)',
      unit: 'ms',
      ratio: Number((result.flooredMs / result.firstMs).toFixed(3)),
      note: `${(result.flooredMs / smallest.flooredMs).toFixed(2)}× the ${smallest.broadcasts.toLocaleString('en-US')}-broadcast count`,
      ...(isLargest ? { target: `≤ ${UNREAD_GROWTH_TARGET}× the smallest`, pass: growth <= UNREAD_GROWTH_TARGET } : {}),
    });
    const pageGrowth = result.pageMs / smallest.pageMs;
    rows.push({
      bench: 'unread',
      metric: `inbox page of 50, ${result.broadcasts.toLocaleString('en-US')} broadcasts`,
      herald: Number(result.pageMs.toFixed(2)),
      reference: Number(smallest.pageMs.toFixed(2)),
      referenceName: `${smallest.broadcasts.toLocaleString('en-US')} broadcasts`,
      unit: 'ms',
      ratio: Number(pageGrowth.toFixed(2)),
      ...(isLargest ? { target: `≤ ${UNREAD_GROWTH_TARGET}× the smallest`, pass: pageGrowth <= UNREAD_GROWTH_TARGET } : {}),
    });
  }
  return rows;
}
