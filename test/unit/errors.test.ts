/** Every problem code is documented in docs/errors.md, and the docs name no code that does not exist. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { PROBLEM_CODES } from '../../src/errors.js';

describe('problem codes', () => {
  const doc = fs.readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  it('are all documented with their status', () => {
    for (const [code, { status }] of Object.entries(PROBLEM_CODES)) {
      assert.match(doc, new RegExp(`\\| \`${code}\` \\| ${status} \\|`), `${code} missing from docs/errors.md`);
    }
  });
  it('are not invented by the docs', () => {
    const documented = [...doc.matchAll(/^\| `(HERALD_[A-Z_]+)` \|/gm)].map((m) => m[1] ?? '');
    for (const code of documented) assert.ok(code in PROBLEM_CODES, `${code} documented but not defined`);
  });
});
