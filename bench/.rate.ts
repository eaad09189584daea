import fs from 'node:fs';
import { mintToken } from '../src/auth/tokens.js';
import { Cluster } from './cluster/cluster.js';
import { HttpPool } from './lib/http.js';
import { BENCH_SECRET } from './lib/proc.js';

const cpu = (pid: number) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
const cassandraPid = Number(process.argv[2]);
const cluster = await Cluster.create();
try {
  const api = await cluster.start('api');
  await cluster.start('gateway');
  await cluster.start('worker');
  const token = await mintToken(BENCH_SECRET, { sub: 'ops', admin: true });
  const pool = new HttpPool(api.url, 16);
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const send = (i: number) => pool.request('POST', '/api/v1/send', headers, JSON.stringify({ msg: `m${i}`, uid: `u${i % 50}` }));
  for (let i = 0; i < 2000; i++) await send(i); // warm
  for (const rate of [100, 400, 1600, 100]) {
    const pids = cluster.processes.map((p) => [p.role, p.child.pid!] as const);
    const a = pids.map(([, pid]) => cpu(pid)),
      ca = cpu(cassandraPid),
      t0 = performance.now();
    const N = rate * 10;
    const ps: Promise<unknown>[] = [];
    for (let i = 0; i < N; i++) {
      const due = t0 + (i * 1000) / rate;
      const w = due - performance.now();
      if (w > 1) await new Promise((r) => setTimeout(r, w));
      ps.push(send(i));
    }
    await Promise.all(ps);
    await new Promise((r) => setTimeout(r, 1000));
    const wall = (performance.now() - t0) / 1000;
    const b = pids.map(([, pid]) => cpu(pid));
    console.log(
      `${rate}/s: ` +
        pids.map(([role], i) => `${role} ${(((b[i]! - a[i]!) * 1e6) / N).toFixed(0)} µs/send (${((b[i]! - a[i]!) / wall).toFixed(2)} cores)`).join(', ') +
        `, cassandra ${(((cpu(cassandraPid) - ca) * 1e6) / N).toFixed(0)} µs/send`,
    );
  }
  pool.close();
} finally {
  await cluster.cleanup();
}
