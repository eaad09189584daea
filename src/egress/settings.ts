/** The web push egress policy from the configuration (HERALD_WEBPUSH_ALLOW_PRIVATE, HERALD_WEBPUSH_HOSTS). */
import { type EgressPolicy, parseAllowedHosts } from './policy.js';

/** The settings of channels/webpush/settings.ts it reads. */
export const webPushEgressOf = (config: { webpushAllowPrivate: boolean; webpushHosts?: string | undefined }): EgressPolicy => ({
  allowPrivate: config.webpushAllowPrivate,
  allowedHosts: parseAllowedHosts(config.webpushHosts),
});
