/** Configuration: defaults are embedded, bad values stop start-up naming the variable. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CHANNEL_REGISTRY } from '../../channels/registry.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { CORE_SETTINGS } from '../../src/core-settings.js';

describe('loadConfig', () => {
  it("takes each setting from one place: no channel redeclares a core or another channel's key or variable", () => {
    const tables = [{ owner: 'core', settings: CORE_SETTINGS }, ...CHANNEL_REGISTRY.map((d) => ({ owner: d.name, settings: d.settings }))];
    const owners = new Map<string, string>();
    for (const { owner, settings } of tables) {
      for (const [key, setting] of Object.entries(settings as Record<string, { env: string }>)) {
        for (const name of [`key ${key}`, `variable ${setting.env}`]) {
          assert.equal(owners.get(name), undefined, `${name} of ${owner} is also declared by ${owners.get(name)}`);
          owners.set(name, owner);
        }
      }
    }
  });

  it('runs embedded with no settings at all', () => {
    const config = loadConfig({});
    assert.equal(config.port, 8080);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.dataDir, path.resolve('./data'));
    assert.equal(config.jwtSecret, undefined);
    assert.deepEqual(config.smtpUrls, []);
    assert.equal(config.jwtAlgorithm, 'HS256');
  });

  it('names every bad variable at once', () => {
    assert.throws(
      () => loadConfig({ HERALD_PORT: '99999', HERALD_LOG_LEVEL: 'loud', HERALD_SMTP_URL: 'not a url' }),
      (e: unknown) => e instanceof ConfigError && /HERALD_PORT/.test(e.message) && /HERALD_LOG_LEVEL/.test(e.message) && /HERALD_SMTP_URL/.test(e.message),
    );
  });

  it('rejects settings that only make sense together', () => {
    assert.throws(() => loadConfig({ HERALD_JWT_ALGORITHM: 'RS256' }), /HERALD_JWT_PUBLIC_KEY or HERALD_JWT_JWKS_URL/);
    assert.throws(() => loadConfig({ HERALD_VAPID_PUBLIC_KEY: 'abc' }), /set together/);
  });

  it('refuses a short HS256 secret and a JWKS URL that is not https, naming the variable', () => {
    assert.throws(() => loadConfig({ HERALD_JWT_SECRET: 'x' }), /HERALD_JWT_SECRET is 1 bytes: an HS256 secret needs at least 32/);
    assert.doesNotThrow(() => loadConfig({ HERALD_JWT_SECRET: 'x'.repeat(32) }));
    for (const url of ['http://id.example.com/jwks.json', 'file:///etc/passwd']) {
      assert.throws(() => loadConfig({ HERALD_JWT_ALGORITHM: 'RS256', HERALD_JWT_JWKS_URL: url }), /HERALD_JWT_JWKS_URL=.*must be an https URL/);
    }
  });
});
