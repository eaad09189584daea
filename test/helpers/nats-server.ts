/**
 * A NATS server with JetStream of the test's own (free port, own store dir), so a test can kill
 * and restart it without touching the machine's shared server. The store survives restarts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { waitForPort } from './services.js';
import { tempDir } from './temp-dir.js';

const BINARY = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find((p) => fs.existsSync(p));

export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });

export interface OwnNatsServer {
  url: string;
  kill(signal?: NodeJS.Signals): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startOwnNats(): Promise<OwnNatsServer> {
  if (!BINARY) throw new Error('nats-server is not installed: run npm run services:up (it installs Debian nats-server)');
  const port = await freePort();
  const storeDir = tempDir('herald-nats');
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(BINARY, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], { stdio: 'ignore' });
    await waitForPort('127.0.0.1', port, 15_000);
  };
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    const running = child;
    if (!running || running.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve());
      running.kill(signal);
    });
  };
  await start();
  return { url: `nats://127.0.0.1:${port}`, start, kill, stop: () => kill('SIGTERM') };
}
