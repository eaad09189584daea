/**
 * docker-compose.yml cannot run here (no Docker engine), so it is validated: `docker-compose
 * config` must accept it, and every Herald service's environment must be one Herald reads and
 * accepts — each is passed through the real loadConfig.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadConfig, SETTINGS } from '../../src/config.js';

const secrets = {
  HERALD_JWT_SECRET: 'jwt-secret-for-compose-validation-0123456789',
  HERALD_TICKET_SECRET: 'ticket-secret-for-compose-validation-0123456789',
  HERALD_VAPID_PUBLIC_KEY: 'BPublicKeyForComposeValidation',
  HERALD_VAPID_PRIVATE_KEY: 'privateKeyForComposeValidation',
};

function composeConfig(env: Record<string, string>): {
  services: Record<string, { environment?: Record<string, string>; healthcheck?: unknown; command?: string[] }>;
} {
  const output = execFileSync('docker-compose', ['-f', 'docker-compose.yml', 'config'], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });
  return parse(output);
}

describe('docker-compose.yml', () => {
  it('is valid and refuses to start without the shared secrets', () => {
    assert.throws(
      () => execFileSync('docker-compose', ['-f', 'docker-compose.yml', 'config'], { env: { PATH: process.env.PATH ?? '' }, stdio: 'pipe' }),
      /HERALD_JWT_SECRET/,
    );
    const config = composeConfig(secrets);
    for (const name of ['nats', 'redis', 'cassandra', 'elasticsearch', 'migrate', 'api', 'gateway', 'worker'])
      assert.ok(config.services[name], `service ${name}`);
  });

  it('gives every Herald service an environment Herald reads and accepts, and a health check', () => {
    const known = new Set<string>(Object.values(SETTINGS).map((s) => s.env));
    const config = composeConfig(secrets);
    const roles: Record<string, string[]> = {};
    for (const name of ['migrate', 'api', 'gateway', 'worker']) {
      const env = config.services[name]?.environment ?? {};
      for (const variable of Object.keys(env)) assert.ok(known.has(variable), `${name}: ${variable} is not a Herald setting`);
      const parsed = loadConfig(env);
      roles[name] = parsed.roles;
      assert.ok(parsed.natsUrl && parsed.redisUrl && parsed.cassandraContactPoints && parsed.elasticsearchUrl, `${name} is wired to every backbone service`);
      if (name !== 'migrate') assert.ok(config.services[name]?.healthcheck, `${name} has a health check`);
    }
    assert.deepEqual(roles.api, ['api']);
    assert.deepEqual(roles.gateway, ['gateway']);
    assert.deepEqual(roles.worker, ['triage', 'deliver']);
    assert.deepEqual(config.services.migrate?.command, ['migrate']);
  });
});
