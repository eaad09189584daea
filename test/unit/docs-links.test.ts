/**
 * Docs and comments point only inside the repo: no file cites a document a clone does not
 * contain, and every relative Markdown link resolves to a file of the repo.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tracked = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' })
  .split('\n')
  .filter((file) => /\.(ts|mts|mjs|cjs|js|md|sh|yml|json)$/.test(file) && file !== 'package-lock.json' && fs.existsSync(path.join(ROOT, file)));

/** Documents of the workspace Herald was designed in, which a clone does not have. */
const OUTSIDE = /(\.\.\/shared\/|\b(?:API|DESIGN|SERVICES|PROVIDERS|STYLE)\.md\b)/;

describe('docs and comments', () => {
  it('cite no document outside the repo', () => {
    const offenders = tracked.flatMap((file) =>
      fs
        .readFileSync(path.join(ROOT, file), 'utf8')
        .split('\n')
        .flatMap((line, i) => (OUTSIDE.test(line) && file !== 'test/unit/docs-links.test.ts' ? [`${file}:${i + 1}: ${line.trim()}`] : [])),
    );
    assert.deepEqual(offenders, []);
  });

  it('link only to files that exist in the repo', () => {
    const broken: string[] = [];
    for (const file of tracked.filter((f) => f.endsWith('.md'))) {
      const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (!target || /^(https?:|mailto:|#)/.test(target)) continue;
        const resolved = path.resolve(path.dirname(path.join(ROOT, file)), target.split('#')[0] ?? '');
        if (!resolved.startsWith(ROOT) || !fs.existsSync(resolved)) broken.push(`${file}: ${target}`);
      }
    }
    assert.deepEqual(broken, []);
  });
});
