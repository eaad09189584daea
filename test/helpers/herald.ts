/**
 * Starts a real Herald for end-to-end tests — in this process (fast) or as a child process
 * (for kill -9 and signal tests) — on an ephemeral port with its own temporary data dir, and
 * gives real HTTP and WebSocket clients to talk to it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import type { ResponseMismatch } from '../../src/api/response-check.js';
import { startHerald } from '../../src/app.js';
import { mintToken } from '../../src/auth/tokens.js';
import { loadConfig } from '../../src/config.js';
import { tempDir } from './temp-dir.js';

export const TEST_SECRET = 'test-secret-for-herald-e2e-0123456789';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: any;
}

export interface TestClient {
  url: string;
  dataDir: string;
  token(sub: string, options?: { admin?: boolean; ttlSeconds?: number }): Promise<string>;
  api(method: string, route: string, options?: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> }): Promise<ApiResponse>;
  /** Opens a socket for `uid` with a fresh ticket; resolves once open. */
  socket(uid: string, options?: { since?: string }): Promise<TestSocket>;
  /** GET /api/v1/messages/{id} as `token` (an admin's by default), once triage has finished with it. */
  triaged(id: string, token?: string): Promise<ApiResponse>;
}

export const tempDataDir = () => tempDir('herald-test');

/** Rate limits are off in tests unless a test sets them (test/e2e/rate-limits.test.ts does). */
const NO_RATE_LIMITS = {
  HERALD_RATE_SEND: '0',
  HERALD_RATE_SEND_BURST: '0',
  HERALD_RATE_RECIPIENT: '0',
  HERALD_RATE_WS_TICKET: '0',
  HERALD_RATE_UNAUTHENTICATED: '0',
};

function baseEnv(dataDir: string, env: Record<string, string>): Record<string, string> {
  return {
    HERALD_PORT: '0',
    HERALD_HOST: '127.0.0.1',
    HERALD_DATA_DIR: dataDir,
    HERALD_LOG_LEVEL: 'warn',
    HERALD_JWT_SECRET: TEST_SECRET,
    ...NO_RATE_LIMITS,
    ...env,
  };
}

function client(url: string, dataDir: string): TestClient {
  const self: TestClient = {
    url,
    dataDir,
    token: (sub, options = {}) => mintToken(TEST_SECRET, { sub, ...options }),
    async api(method, route, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      let body: string | undefined = options.raw;
      if (options.body !== undefined) {
        body = JSON.stringify(options.body);
        headers['content-type'] ??= 'application/json';
      }
      const response = await fetch(url + route, { method, headers, body });
      const text = await response.text();
      let parsed: unknown = text;
      if ((response.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
      return { status: response.status, headers: response.headers, body: parsed };
    },
    async socket(uid, options = {}) {
      const ticket = await self.api('POST', '/api/v1/ws/token', { token: await self.token(uid) });
      if (ticket.status !== 200) throw new Error(`ticket: ${ticket.status} ${JSON.stringify(ticket.body)}`);
      const query = new URLSearchParams({ token: ticket.body.token });
      if (options.since) query.set('since', options.since);
      return TestSocket.open(`${url.replace('http', 'ws')}/ws?${query}`);
    },
    async triaged(id, token) {
      const as = token ?? (await self.token('ops', { admin: true }));
      return eventually(
        async () => {
          const res = await self.api('GET', `/api/v1/messages/${id}`, { token: as });
          return res.body.status === 'triaged' ? res : undefined;
        },
        30_000,
        `message ${id} triaged`,
      );
    },
  };
  return self;
}

/**
 * Herald in this process. Every REST answer it gives is checked against its route's document
 * (src/api/response-check.ts): one that breaks it is answered as a 500 naming the mismatch, and
 * `stop()` fails listing every mismatch, so the whole e2e suite's traffic checks the document.
 */
export async function startInProcess(env: Record<string, string> = {}) {
  const dataDir = env.HERALD_DATA_DIR ?? tempDataDir();
  const mismatches: ResponseMismatch[] = [];
  const herald = await startHerald(loadConfig(baseEnv(dataDir, env)), { onResponseMismatch: (mismatch) => mismatches.push(mismatch) });
  const stop = async () => {
    await herald.stop();
    if (mismatches.length > 0) {
      throw new Error(`${mismatches.length} response(s) broke the API document:\n${mismatches.map((m) => JSON.stringify(m)).join('\n')}`);
    }
  };
  return { ...client(herald.url, dataDir), herald, mismatches, stop };
}

/** Herald as a child process running the real CLI (`herald serve`). */
export async function startChild(env: Record<string, string> = {}) {
  const dataDir = env.HERALD_DATA_DIR ?? tempDataDir();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/main.ts'), 'serve'], {
    cwd: ROOT,
    env: { ...process.env, ...baseEnv(dataDir, env) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  let stdout = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(stdout);
      if (match?.[1]) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`herald exited with ${code} before listening:\n${stderr}`)));
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    ...client(url, dataDir),
    child: child as ChildProcess,
    exited,
    stderr: () => stderr,
    stdout: () => stdout,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      child.kill(signal);
      return exited;
    },
  };
}

/** A WebSocket client that records every frame and lets a test wait for the ones it expects. */
export class TestSocket {
  readonly frames: any[] = [];
  closed: { code: number; reason: string } | undefined;
  private waiters: Array<() => void> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()));
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
  }

  static open(url: string): Promise<TestSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const socket = new TestSocket(ws);
      ws.once('open', () => resolve(socket));
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode })));
      ws.once('error', reject);
    });
  }

  send(frame: unknown) {
    this.ws.send(JSON.stringify(frame));
  }

  messages() {
    return this.frames.filter((f) => f.type === 'message');
  }

  /** Resolves with the first frame matching, waiting up to `timeoutMs` (then fails with what arrived). */
  async next(match: (frame: any) => boolean, timeoutMs = 10_000): Promise<any> {
    await this.until(() => this.frames.some(match), timeoutMs, 'frame');
    return this.frames.find(match);
  }

  async until(condition: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}; ${this.frames.length} frames so far, the last: ${JSON.stringify(this.frames.slice(-3)).slice(0, 600)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  close() {
    this.ws.close();
  }

  private wake() {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/** Polls `probe` until it returns a truthy value (or fails after `timeoutMs`). For state reached asynchronously. */
export async function eventually<T>(probe: () => Promise<T | undefined | false>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
