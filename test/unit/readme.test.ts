/** The README documents every setting Herald reads, and the test commands CI runs. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { SETTINGS } from '../../src/config.js';

const readme = fs.readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('lists every environment variable in the configuration table', () => {
    for (const setting of Object.values(SETTINGS)) assert.match(readme, new RegExp(`\\| \`${setting.env}\` \\|`), `${setting.env} missing from README`);
  });
  it('names the commands .ci/run runs', () => {
    const ci = fs.readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8');
    for (const command of ['npm test', 'npm run check', 'npm run test:browser', 'npm run test:integration']) {
      assert.ok(ci.includes(command), `.ci/run runs ${command}`);
      assert.ok(readme.includes(command), `README documents ${command}`);
    }
  });
});
