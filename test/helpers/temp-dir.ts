/**
 * Temporary folders for tests, removed when the test process exits (a child Herald still
 * writing into one is stopped by then, or loses a folder it no longer needs).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const made = new Set<string>();

process.once('exit', () => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

/** A new empty folder under the system's temp dir, named `<prefix>-<random>`, removed at exit. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  made.add(dir);
  return dir;
}
