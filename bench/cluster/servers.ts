/**
 * What the machine's servers did during a measurement: their pids (found by their listening
 * ports with `ss`) for CPU use, the requests Cassandra served per table of a keyspace, and the
 * requests each client process sent it (its system_views virtual tables). Read-only; a server
 * not found is left out.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import type cassandra from 'cassandra-driver';
import { cpuSeconds } from '../lib/proc.js';
import { type Cluster, services } from './cluster.js';

export function serverPids(): Record<string, number> {
  const s = services().endpoints;
  const ports: Record<string, number> = {
    cassandra: s.cassandra.port,
    elasticsearch: s.elasticsearch.port,
    nats: s.nats.port,
    redis: s.redis.port,
  };
  let listing = '';
  try {
    listing = execFileSync('ss', ['-ltnpH'], { encoding: 'utf8' });
  } catch {
    return {};
  }
  const pids: Record<string, number> = {};
  for (const [name, port] of Object.entries(ports)) {
    const line = listing.split('\n').find((l) => new RegExp(`:${port}\\s`).test(l));
    const pid = line ? /pid=(\d+)/.exec(line)?.[1] : undefined;
    if (pid) pids[name] = Number(pid);
  }
  return pids;
}

/** The servers' pids and the cluster's, by name (`api1`, `api2`, `worker1`, …), for cpuSnapshot. */
export function clusterPids(cluster: Cluster): Record<string, number> {
  const pids: Record<string, number> = {};
  for (const [name, pid] of Object.entries(serverPids())) if (pid !== undefined) pids[name] = pid;
  const seen: Record<string, number> = {};
  for (const p of cluster.processes) {
    seen[p.role] = (seen[p.role] ?? 0) + 1;
    pids[`${p.role}${seen[p.role]}`] = p.pid;
  }
  return pids;
}

/** CPU seconds per named pid now; `since(before)` → cores used per name over `seconds`. */
export function cpuSnapshot(pids: Record<string, number | number[]>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, value] of Object.entries(pids)) {
    let sum = 0;
    for (const pid of Array.isArray(value) ? value : [value]) {
      try {
        sum += cpuSeconds(pid);
      } catch {
        // the process is gone
      }
    }
    out[name] = sum;
  }
  return out;
}

export function coresBetween(before: Record<string, number>, after: Record<string, number>, seconds: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of Object.keys(before)) out[name] = ((after[name] ?? 0) - (before[name] ?? 0)) / seconds;
  return out;
}

export const describeCores = (cores: Record<string, number>) =>
  Object.entries(cores)
    .map(([name, c]) => `${name} ${c.toFixed(2)}`)
    .join(', ');

/** CPU seconds the JIT compiler threads of a JVM (`C1/C2 CompilerThread…`) have used so far. */
export function jitSeconds(pid: number): number {
  let ticks = 0;
  let tasks: string[] = [];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  for (const tid of tasks) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      if (!/^\d+ \(C\d CompilerThre/.test(stat)) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // the thread ended
    }
  }
  return ticks / 100;
}

export type CqlOps = Record<string, { reads: number; writes: number }>;

/**
 * Requests Cassandra coordinated per table of `keyspace` so far (system_views
 * coordinator_read_latency / coordinator_write_latency counts; conditional writes are counted
 * by Cassandra apart and do not appear here, their reads before do).
 */
export async function cqlOps(client: cassandra.Client, keyspace: string): Promise<CqlOps> {
  const out: CqlOps = {};
  for (const [view, kind] of [
    ['coordinator_read_latency', 'reads'],
    ['coordinator_write_latency', 'writes'],
  ] as const) {
    const result = await client.execute(`SELECT table_name, count FROM system_views.${view} WHERE keyspace_name = ?`, [keyspace]);
    for (const row of result.rows) {
      const table = row.get('table_name') as string;
      out[table] ??= { reads: 0, writes: 0 };
      out[table][kind] = Number(row.get('count'));
    }
  }
  return out;
}

/** "table r<reads> w<writes>" per table that changed, per `unit` (e.g. per message), busiest first. */
export function describeOps(before: CqlOps, after: CqlOps, units: number): string {
  const rows = Object.keys(after)
    .map((table) => {
      const reads = ((after[table]?.reads ?? 0) - (before[table]?.reads ?? 0)) / units;
      const writes = ((after[table]?.writes ?? 0) - (before[table]?.writes ?? 0)) / units;
      return { table, reads, writes };
    })
    .filter((r) => r.reads > 0.005 || r.writes > 0.005)
    .sort((a, b) => b.reads + b.writes - (a.reads + a.writes));
  const total = rows.reduce((sum, r) => sum + r.reads + r.writes, 0);
  return `${total.toFixed(2)} in all — ${rows.map((r) => `${r.table} r${r.reads.toFixed(2)} w${r.writes.toFixed(2)}`).join(', ')}`;
}

/**
 * Native-protocol requests (one per statement, batch or conditional write, as a driver sends
 * them) that Cassandra received so far on the connections bound to `keyspace`, per client pid
 * (system_views.clients request_count; each connection's port → pid with `ss`). The drivers'
 * control connections are bound to no keyspace: their metadata queries are left out.
 */
export async function clientRequests(client: cassandra.Client, keyspace: string): Promise<Map<number, number>> {
  const [result, listing] = await Promise.all([
    client.execute('SELECT port, keyspace_name, request_count FROM system_views.clients'),
    Promise.resolve().then(() => {
      try {
        return execFileSync('ss', ['-tnpH', 'state', 'established'], { encoding: 'utf8' });
      } catch {
        return '';
      }
    }),
  ]);
  const pidOfPort = new Map<number, number>();
  for (const line of listing.split('\n')) {
    const match = /127\.0\.0\.1:(\d+)\s+\S+:9042\s+users:\(\("[^"]*",pid=(\d+)/.exec(line);
    if (match) pidOfPort.set(Number(match[1]), Number(match[2]));
  }
  const out = new Map<number, number>();
  for (const row of result.rows) {
    if (row.get('keyspace_name') !== keyspace) continue;
    const pid = pidOfPort.get(Number(row.get('port')));
    if (pid !== undefined) out.set(pid, (out.get(pid) ?? 0) + Number(row.get('request_count')));
  }
  return out;
}

/** Requests per `unit` by role between two clientRequests readings (`roles`: pid → role), and their total. */
export function requestsPer(before: Map<number, number>, after: Map<number, number>, roles: Map<number, string>, units: number) {
  const byRole: Record<string, number> = {};
  for (const [pid, count] of after) {
    const role = roles.get(pid);
    if (role === undefined) continue;
    byRole[role] = (byRole[role] ?? 0) + (count - (before.get(pid) ?? 0)) / units;
  }
  const total = Object.values(byRole).reduce((sum, n) => sum + n, 0);
  return {
    total,
    byRole,
    text: `${total.toFixed(2)} in all — ${Object.entries(byRole)
      .map(([role, n]) => `${role} ${n.toFixed(2)}`)
      .join(', ')}`,
  };
}
