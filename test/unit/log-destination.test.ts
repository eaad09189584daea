/**
 * The default log destination (src/observability/log-destination.ts) when its reader is gone:
 * `herald serve | head -1` and a process that exits with lines still buffered. A child process
 * writes through it into a pipe whose reader has closed, then exits at once: it must exit, with
 * its own code, whatever is still unwritten.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DESTINATION = path.join(ROOT, 'src/observability/log-destination.ts');

/** Waits for its stdin to close (the reader of its stdout is gone by then), logs, and exits 3 without waiting. */
const CHILD = `
  import { stdoutDestination } from ${JSON.stringify(DESTINATION)};
  const destination = stdoutDestination();
  destination.write('{"msg":"before"}\\n');
  process.stdin.resume();
  process.stdin.on('end', () => {
    for (let i = 0; i < 100; i++) destination.write('{"msg":"into a closed pipe"}\\n');
    process.exit(3);
  });
`;

/** Logs `count` lines and exits 3 at once, without waiting for them to be written. */
const BURST = (count: number) => `
  import { stdoutDestination } from ${JSON.stringify(DESTINATION)};
  const destination = stdoutDestination();
  for (let i = 0; i < ${count}; i++) destination.write(JSON.stringify({ msg: 'line', i, pad: 'x'.repeat(200) }) + '\\n');
  process.exit(3);
`;

const run = (source: string, stdio: Array<'pipe' | 'inherit' | 'ignore'>) =>
  spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], { cwd: ROOT, stdio: stdio as ['pipe', 'pipe', 'inherit'] });

/** The child's exit code once it exited and its output closed, or 'hung' when that takes over 10 s (it is then killed). */
async function exitOf(child: ReturnType<typeof run>): Promise<number | null | 'hung'> {
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const timeout = new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 10_000).unref());
  const outcome = await Promise.race([exited, timeout]);
  if (outcome === 'hung') child.kill('SIGKILL');
  return outcome;
}

describe('the default log destination', () => {
  it('writes what is still buffered when the process exits, for a reader that reads', async () => {
    const child = run(BURST(2_000), ['ignore', 'pipe', 'inherit']);
    let text = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    assert.equal(await exitOf(child), 3);
    assert.equal(text.split('\n').filter(Boolean).length, 2_000, 'every line, though the process exited right after logging them');
  });

  it('exits, dropping the rest, when its reader takes nothing (a full pipe at exit)', async () => {
    const child = run(BURST(5_000), ['ignore', 'pipe', 'inherit']);
    child.stdout?.pause(); // read nothing: the pipe fills and stays full
    assert.equal(await exitOf(child), 3);
  });

  it('lets the process exit when its reader has gone and lines are still buffered', async () => {
    const child = run(CHILD, ['pipe', 'pipe', 'inherit']);
    await new Promise<void>((resolve) => child.stdout?.once('data', () => resolve()));
    child.stdout?.destroy(); // the reader goes away, as `head -1` does
    child.stdin?.end();
    assert.equal(await exitOf(child), 3, 'exits with its own code instead of retrying the write forever');
  });
});
