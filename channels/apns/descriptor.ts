/**
 * The APNs channel (iOS devices). Enabled when HERALD_APNS_KEY is set (`requiredTogether` refuses a
 * partial APNs configuration, so the key id, team id and topic are then set too). The key is
 * the .p8 PEM text itself, or a path to it (anything without "BEGIN"); a key that cannot be read
 * or cannot sign, or a HERALD_APNS_HOST that is not host[:port], stops start-up with an error
 * naming the variable. HERALD_APNS_CONCURRENCY bounds its requests in flight.
 */
import { readFileSync } from 'node:fs';
import type { ChannelConfig, ChannelDescriptor } from '../port.js';
import { createApnsChannel } from './apns-channel.js';
import { APNS_SETTINGS } from './settings.js';

export const MISSING_CREDENTIALS = 'missing credentials: set HERALD_APNS_KEY, HERALD_APNS_KEY_ID, HERALD_APNS_TEAM_ID, HERALD_APNS_TOPIC';

/** The PEM text of `apnsKey`: itself when it holds a PEM block, else the file it names. */
export function readApnsKey(apnsKey: string): string {
  if (apnsKey.includes('BEGIN')) return apnsKey;
  try {
    return readFileSync(apnsKey, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new Error(`HERALD_APNS_KEY: cannot read the key file ${apnsKey} (${code})`, { cause: err });
  }
}

const missing = (config: ChannelConfig<typeof APNS_SETTINGS>): boolean => !config.apnsKey || !config.apnsKeyId || !config.apnsTeamId || !config.apnsTopic;

export const apnsDescriptor: ChannelDescriptor<typeof APNS_SETTINGS> = {
  name: 'apns',
  address: 'device:ios',
  intrusive: true,
  inApp: true,
  settings: APNS_SETTINGS,
  requiredTogether: [{ label: 'APNs', keys: ['apnsKey', 'apnsKeyId', 'apnsTeamId', 'apnsTopic'] }],
  disabledReason: (config) => (missing(config) ? MISSING_CREDENTIALS : undefined),
  create: ({ config, log }) => {
    if (!config.apnsKey || !config.apnsKeyId || !config.apnsTeamId || !config.apnsTopic) throw new Error(MISSING_CREDENTIALS);
    const key = readApnsKey(config.apnsKey);
    try {
      return createApnsChannel({
        key,
        keyId: config.apnsKeyId,
        teamId: config.apnsTeamId,
        topic: config.apnsTopic,
        production: config.apnsProduction,
        concurrency: config.apnsConcurrency,
        logger: log.child({ channel: 'apns' }),
        circuit: { failures: config.circuitFailures, openMs: config.circuitOpenMs },
        ...(config.apnsHost ? { host: config.apnsHost } : {}),
      });
    } catch (err) {
      throw new Error(`HERALD_APNS_KEY / HERALD_APNS_HOST: ${(err as Error).message}`, { cause: err });
    }
  },
};
