/**
 * `herald send`, `herald multicast` and `herald broadcast` (src/cli/send.ts) against a running
 * Herald: the real CLI as a child process, pointed at a child Herald (embedded, its own data
 * dir, no HERALD_JWT_SECRET: the secret is the one Herald generated there). Without
 * HERALD_TOKEN the CLI mints an admin token from that data dir; the printed id is then read back
 * over the API with the fields the command line set. A non-admin HERALD_TOKEN gets the server's
 * problem (exit 1), a bad command line exit 2 with the usage, and no token or secret is ever
 * printed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { mintToken } from '../../src/auth/tokens.js';
import { closedPort } from '../helpers/closed-port.js';
import { startChild } from '../helpers/herald.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Anything shaped like a JWT (base64url header.payload.signature). */
const JWT = /eyJ[\w-]+\.[\w-]+\.[\w-]+/;

type Run = { code: number | null; stdout: string; stderr: string };

/** Runs `herald <args>` with `env` over a clean HERALD_* environment (no token, no secret unless given). */
function herald(args: string[], env: Record<string, string>): Promise<Run> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('HERALD_')));
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/main.ts'), ...args], {
    cwd: ROOT,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A port nothing listens on: one the OS just handed out and took back. */

describe('herald send | multicast | broadcast', () => {
  let h: Awaited<ReturnType<typeof startChild>>;
  let secret: string;
  let admin: string;
  let env: Record<string, string>;

  before(async () => {
    h = await startChild({ HERALD_JWT_SECRET: '' });
    secret = JSON.parse(fs.readFileSync(path.join(h.dataDir, 'secrets.json'), 'utf8')).jwtSecret;
    assert.ok(secret, 'Herald generated a secret in its data dir');
    admin = await mintToken(secret, { sub: 'ops', admin: true });
    env = { HERALD_URL: h.url, HERALD_DATA_DIR: h.dataDir };
  });
  after(() => h.kill('SIGTERM'));

  /** The admin view of message `id`. */
  const message = async (id: string) => {
    const res = await h.api('GET', `/api/v1/messages/${id}`, { token: admin });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };

  /** Nothing secret in what the CLI printed. */
  const assertNothingSecret = (run: Run, token?: string) => {
    for (const text of [run.stdout, run.stderr]) {
      assert.doesNotMatch(text, JWT);
      assert.ok(!text.includes(secret), 'the secret is never printed');
      if (token) assert.ok(!text.includes(token), 'the token is never printed');
    }
  };

  it('send: mints an admin token from the data dir and prints the id of the message with its options', async () => {
    const run = await herald(
      [
        'send',
        '--to',
        'alice',
        'hello from the command line',
        '--urgency',
        'high',
        '--title',
        'CLI',
        '--link',
        'https://example.com/x',
        '--ttl',
        '1h',
        '--topic',
        'cli1',
      ],
      env,
    );
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    assert.match(run.stdout, /^[^\n]+\n$/, 'one line');
    const id = run.stdout.trim();
    assert.match(id, UUID);
    const body = await message(id);
    assert.equal(body.msg, 'hello from the command line');
    assert.equal(body.urgency, 'high');
    assert.equal(body.title, 'CLI');
    assert.equal(body.link, 'https://example.com/x');
    assert.equal(body.topic, 'cli1');
    assert.ok(body.expiresAt, 'the ttl became an expiry');
    assert.deepEqual(body.target, { kind: 'user', uid: 'alice' });
    assertNothingSecret(run);
  });

  it('send --delay schedules the message', async () => {
    const run = await herald(['send', '--to', 'alice', 'later', '--delay', '1d'], env);
    assert.equal(run.code, 0, run.stderr);
    const body = await message(run.stdout.trim());
    assert.equal(body.status, 'scheduled');
    assert.ok(body.scheduledFor);
  });

  it('multicast: sends to each uid, with the channels asked for', async () => {
    const run = await herald(['multicast', '--uids', 'bob,carol', 'to both', '--channels', 'realtime', '--urgency', 'low'], env);
    assert.equal(run.code, 0, run.stderr);
    const id = run.stdout.trim();
    assert.match(id, UUID);
    const body = await message(id);
    assert.equal(body.msg, 'to both');
    assert.equal(body.urgency, 'low');
    assert.deepEqual(body.target, { kind: 'users', uids: ['bob', 'carol'] });
    assertNothingSecret(run);
  });

  it('broadcast: sends to everyone', async () => {
    const run = await herald(['broadcast', 'to everyone', '--title', 'News'], env);
    assert.equal(run.code, 0, run.stderr);
    const body = await message(run.stdout.trim());
    assert.equal(body.msg, 'to everyone');
    assert.equal(body.title, 'News');
    assert.equal(body.urgency, 'normal');
    assert.deepEqual(body.target, { kind: 'everyone' });
  });

  it("a non-admin HERALD_TOKEN: the server's problem on stderr, exit 1, the token never printed", async () => {
    const token = await mintToken(secret, { sub: 'dave' });
    const broadcast = await herald(['broadcast', 'not mine to send'], { ...env, HERALD_TOKEN: token });
    assert.equal(broadcast.code, 1);
    assert.equal(broadcast.stdout, '');
    assert.match(broadcast.stderr, /^herald: 403 HERALD_FORBIDDEN: \S/);
    assertNothingSecret(broadcast, token);

    // A field the user may not set: the problem names it.
    const send = await herald(['send', '--to', 'alice', 'urgent', '--urgency', 'high'], { ...env, HERALD_TOKEN: token });
    assert.equal(send.code, 1);
    assert.match(send.stderr, /^herald: 403 HERALD_FORBIDDEN: /);
    assert.match(send.stderr, /opts\.urgency/);
    assertNothingSecret(send, token);

    // The same token may send what a user may: it is the caller.
    const allowed = await herald(['send', '--to', 'alice', 'from dave'], { ...env, HERALD_TOKEN: token });
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.equal((await message(allowed.stdout.trim())).sender, 'dave');
    assertNothingSecret(allowed, token);
  });

  it('a value the server refuses: 400 naming the field, exit 1', async () => {
    const run = await herald(['send', '--to', 'alice', 'x', '--channels', 'pigeon'], env);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^herald: 400 HERALD_INVALID_REQUEST: /);
    assert.match(run.stderr, /opts\.channels/);
  });

  it('a bad command line: exit 2 with the usage', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['send', 'no recipient'], /--to is required/],
      [['send', '--to', 'alice'], /message text is missing/],
      [['send', '--to', 'alice', 'two', 'texts'], /one message text expected/],
      [['send', '--to', 'alice', 'x', '--bogus'], /Unknown option '--bogus'/],
      [['send', '--to', 'alice', 'x', '--urgency', 'urgent'], /--urgency "urgent": expected very-low, low, normal, high/],
      [['multicast', 'x'], /--uids is required/],
      [['broadcast', 'x', '--ttl', 'soon'], /--ttl "soon"/],
      [['broadcast', 'x', '--to', 'alice'], /Unknown option '--to'/],
    ];
    const runs = await Promise.all(cases.map(([args]) => herald(args, env)));
    for (const [i, run] of runs.entries()) {
      const [args, reason] = cases[i] as [string[], RegExp];
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, reason);
      assert.match(run.stderr, new RegExp(`\\n\\nUsage: herald ${args[0]} `), 'the usage follows');
    }
  });

  it('--help describes each command', async () => {
    const runs = await Promise.all(['send', 'multicast', 'broadcast'].map((command) => herald([command, '--help'], env)));
    for (const run of runs) {
      assert.equal(run.code, 0);
      assert.match(run.stdout, /^Usage: herald (send|multicast|broadcast) /);
      assert.match(run.stdout, /HERALD_TOKEN/);
    }
    const top = await herald(['--help'], env);
    for (const command of ['send', 'multicast', 'broadcast']) assert.match(top.stdout, new RegExp(`\\n  ${command} +\\S`));
  });

  it('a Herald that cannot be reached: a clear message, exit 1', async () => {
    const run = await herald(['broadcast', 'x'], { ...env, HERALD_URL: `http://127.0.0.1:${await closedPort()}` });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^herald: cannot reach Herald at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    assertNothingSecret(run);
  });

  it('no secret to mint with: exit 2 naming what to set', async () => {
    const noDataDir = await herald(['broadcast', 'x'], { ...env, HERALD_DATA_DIR: path.join(h.dataDir, 'not-a-data-dir') });
    assert.equal(noDataDir.code, 2);
    assert.match(noDataDir.stderr, /HERALD_TOKEN is not set, and HERALD_DATA_DIR .* holds no secrets\.json/);
    assert.ok(!fs.existsSync(path.join(h.dataDir, 'not-a-data-dir')), 'the client generates no data dir');

    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const rs = await herald(['broadcast', 'x'], {
      ...env,
      HERALD_JWT_ALGORITHM: 'ES256',
      HERALD_JWT_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    });
    assert.equal(rs.code, 2);
    assert.match(rs.stderr, /HERALD_TOKEN is not set, and HERALD_JWT_ALGORITHM is ES256: only HS256 tokens can be minted here/);
  });
});
