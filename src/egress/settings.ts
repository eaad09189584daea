/** The web push egress policy from the configuration (HERALD_WEBPUSH_ALLOW_PRIVATE, HERALD_WEBPUSH_HOSTS). */
import type { Config } from '../config.js';
import { type EgressPolicy, parseAllowedHosts } from './policy.js';

export const webPushEgressOf = (config: Pick<Config, 'webpushAllowPrivate' | 'webpushHosts'>): EgressPolicy => ({
  allowPrivate: config.webpushAllowPrivate,
  allowedHosts: parseAllowedHosts(config.webpushHosts),
});
