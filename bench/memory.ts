/**
 * memory: server RSS per idle WebSocket at N sockets (default 10,000).
 *
 * RSS₀ is read from /proc/<pid>/status after start-up and a warm-up (a few sockets opened, a
 * broadcast, sockets closed), once the server is idle; RSSₙ after N idle sockets are open and
 * the server has been idle ~2 s (no forced GC: Herald has no non-test way to trigger one).
 * (RSSₙ − RSS₀) ÷ N is the cost of one idle connection, everything included (socket buffers in
 * uWS / libuv, per-user subscriptions and presence in Herald, JS objects in Socket.IO).
 * Measured in the same 10k-socket session as fan-out (see fanout.ts), before any broadcast.
 */
import { rssKiB, sleep, waitIdle } from './lib/proc.js';
import type { ResultRow } from './lib/stats.js';

export const MEMORY_TARGET_KIB = 10;

/** RSS of an idle, settled process: waits for CPU idle, then ~2 s, then takes the median of 3 reads. */
export async function settledRssKiB(pid: number, settleMs = 2_000): Promise<number> {
  await waitIdle(pid, { windowMs: 500, maxMs: 10_000 });
  await sleep(settleMs);
  const reads: number[] = [];
  for (let i = 0; i < 3; i++) {
    reads.push(rssKiB(pid));
    await sleep(250);
  }
  reads.sort((a, b) => a - b);
  return reads[1] as number;
}

export interface MemoryFigures {
  sockets: number;
  rss0KiB: number;
  rssNKiB: number;
}

export const perSocketKiB = (m: MemoryFigures) => (m.rssNKiB - m.rss0KiB) / m.sockets;

export function memoryRows(herald: MemoryFigures, reference: MemoryFigures | undefined, floor?: MemoryFigures): ResultRow[] {
  const h = perSocketKiB(herald);
  const r = reference ? perSocketKiB(reference) : undefined;
  const f = floor ? perSocketKiB(floor) : undefined;
  return [
    {
      bench: 'memory',
      metric: `RSS per idle socket @${herald.sockets}`,
      herald: h,
      ...(r !== undefined ? { reference: r, referenceName: 'Socket.IO', ratio: r / h } : {}),
      unit: 'KiB',
      target: `≤ ${MEMORY_TARGET_KIB} KiB`,
      pass: h <= MEMORY_TARGET_KIB,
      note: 'ratio = reference ÷ Herald (how many times less memory per socket)',
    },
    ...(f !== undefined
      ? [{ bench: 'memory', metric: 'RSS per idle socket vs bare uWS (floor)', herald: h, reference: f, referenceName: 'bare uWS', unit: 'KiB' }]
      : []),
    {
      bench: 'memory',
      metric: 'RSS idle, 0 sockets',
      herald: herald.rss0KiB / 1024,
      ...(reference ? { reference: reference.rss0KiB / 1024, referenceName: 'Socket.IO' } : {}),
      unit: 'MiB',
    },
    {
      bench: 'memory',
      metric: `RSS with ${herald.sockets} sockets`,
      herald: herald.rssNKiB / 1024,
      ...(reference ? { reference: reference.rssNKiB / 1024, referenceName: 'Socket.IO' } : {}),
      unit: 'MiB',
    },
  ];
}
