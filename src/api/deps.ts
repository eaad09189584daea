/** What the REST routes need: the pipeline's ports plus API-only collaborators. */
import type { Capabilities } from '../auth/capabilities.js';
import type { TicketIssuer } from '../auth/tickets.js';
import type { EgressPolicy } from '../egress/policy.js';
import type { ProviderSample } from '../observability/metrics.js';
import type { PipelineDeps } from '../pipeline/deps.js';
import type { RateLimits } from './rate-limits.js';

export interface ApiDeps extends PipelineDeps {
  tickets: TicketIssuer;
  /** Signs and verifies the capabilities of service workers (src/auth/capabilities.ts). */
  capabilities: Capabilities;
  /** HERALD_RATE_* (src/api/rate-limits.ts); absent: no limits. */
  rateLimits?: RateLimits;
  vapidPublicKey: string;
  /** Which web push endpoints may be registered (HERALD_WEBPUSH_ALLOW_PRIVATE, HERALD_WEBPUSH_HOSTS; src/egress). */
  webPushEgress: EgressPolicy;
  /** HERALD_MAX_DEVICES_PER_USER. */
  maxDevicesPerUser: number;
  /** Whether an email template of that name exists (unknown names are a 400 at send time). */
  hasEmailTemplate(name: string): boolean;
  /** Per dependency: "ok" or what is wrong. */
  health(): Promise<Record<string, string>>;
  /** The gates of this process's providers (circuit, pause, queue per urgency). */
  providers(): ProviderSample[];
}
