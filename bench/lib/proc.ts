/**
 * Child processes for the benchmarks: Herald (`src/main.ts serve`), the reference servers and
 * the load-generator workers, each in its own Node process so the server never shares an
 * event loop with its load. Also reads a process's RSS and CPU time from /proc.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BENCH_DIR = path.join(ROOT, 'bench');
/** Fixed HS256 secret of the benchmark Herald; load generators mint tokens with it. */
export const BENCH_SECRET = 'herald-bench-secret-0123456789abcdef';
/** Every server listens here only. */
export const HOST = '127.0.0.1';

/**
 * The latency benchmarks send 1,000/s as one non-admin user to one recipient: far over the
 * default send limits (HERALD_RATE_*), which they do not measure, so they turn them off.
 */
export const NO_SEND_LIMITS = { HERALD_RATE_SEND: '0', HERALD_RATE_SEND_BURST: '0', HERALD_RATE_RECIPIENT: '0' } as const;

export interface ServerProcess {
  name: string;
  url: string;
  port: number;
  pid: number;
  child: ChildProcess;
  stderr(): string;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();

/** Kills every child this process started (on exit or interrupt) — by pid, nothing else. */
export function killAllChildren(): void {
  for (const child of live) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  live.clear();
}
process.once('exit', killAllChildren);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAllChildren();
    process.exit(130);
  });
}

function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/**
 * Starts `node --import tsx <script> ...args` and resolves once it prints
 * "listening on http://HOST:PORT" on stdout.
 */
export async function startServer(
  name: string,
  script: string,
  args: string[],
  env: Record<string, string>,
  options: { nodeArgs?: string[]; cleanup?: () => void } = {},
): Promise<ServerProcess> {
  const child = track(
    spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', script, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (stderr.length > 64_000) stderr = stderr.slice(-32_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 30 s:\n${stderr}`)), 30_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(stdout);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before listening:\n${stderr}`));
    });
  });
  if (/falling back to a nodejs implementation/i.test(stderr)) {
    throw new Error(`${name}: uWebSockets.js native binary not loaded (fallback in use); figures would be meaningless`);
  }
  return {
    name,
    url,
    port: Number(new URL(url).port),
    pid: child.pid as number,
    child,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killed = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(killed);
      }
      options.cleanup?.();
    },
  };
}

/** Herald as an operator runs it: `node --import tsx src/main.ts serve`, embedded, fresh temp data dir. */
export async function startHerald(env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<ServerProcess> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-bench-'));
  return startServer(
    'herald',
    path.join(ROOT, 'src/main.ts'),
    ['serve'],
    {
      HERALD_PORT: '0',
      HERALD_HOST: HOST,
      HERALD_DATA_DIR: dataDir,
      HERALD_LOG_LEVEL: 'warn',
      HERALD_JWT_SECRET: BENCH_SECRET,
      ...env,
    },
    { nodeArgs, cleanup: () => fs.rmSync(dataDir, { recursive: true, force: true }) },
  );
}

export const startReference = (name: 'bare-uws' | 'socketio-server', nodeArgs: string[] = []) =>
  startServer(name, path.join(BENCH_DIR, 'reference', `${name}.ts`), [], { REF_HOST: HOST, REF_PORT: '0' }, { nodeArgs });

/** A load-generator worker (`bench/clients/*.ts`) talking to this process over IPC. */
export function forkWorker(script: string, env: Record<string, string> = {}): ChildProcess {
  return track(
    fork(path.join(BENCH_DIR, 'clients', script), [], {
      cwd: ROOT,
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
}

/** Resident set size of a process, in KiB (VmRSS of /proc/<pid>/status). */
export function rssKiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match?.[1]) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]);
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Waits until `pid` has been (nearly) idle for a whole `windowMs` — e.g. until Herald has
 * finished triaging a broadcast — or `maxMs` passed. Returns the ms waited.
 */
export async function waitIdle(pid: number, options: { windowMs?: number; maxCpuShare?: number; maxMs?: number } = {}): Promise<number> {
  const windowMs = options.windowMs ?? 500;
  const maxShare = options.maxCpuShare ?? 0.05;
  const started = Date.now();
  for (;;) {
    const before = cpuSeconds(pid);
    await sleep(windowMs);
    const share = (cpuSeconds(pid) - before) / (windowMs / 1000);
    if (share <= maxShare || Date.now() - started > (options.maxMs ?? 60_000)) return Date.now() - started;
  }
}
