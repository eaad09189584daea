/** What the pipeline's steps need from the outside world: the ports, chosen by the composition root. */
import type { Channel } from '../../channels/port.js';
import type { Scheduler } from '../../schedulers/port.js';
import type { Capabilities } from '../auth/capabilities.js';
import type { UnsubscribeLinks } from '../auth/unsubscribe.js';
import type { Bus } from '../bus/port.js';
import type { ChannelTraitsMap } from '../exchange/channel-traits.js';
import type { FallbackPolicy } from '../exchange/fallback.js';
import type { ChannelName } from '../exchange/types.js';
import type { Logger } from '../observability/log.js';
import type { Metrics } from '../observability/metrics.js';
import type { Presence } from '../presence/port.js';
import type { Search } from '../search/port.js';
import type { Stores } from '../store/port.js';
import type { Caps } from './caps.js';
import type { RecentErasures } from './recent-erasures.js';
import type { RecentRecalls } from './recent-recalls.js';

export interface PipelineDeps {
  stores: Stores;
  bus: Bus;
  search: Search;
  scheduler: Scheduler;
  presence: Presence;
  channels: ReadonlyMap<ChannelName, Channel>;
  /** Every registered channel's traits (channels/registry.ts), for the domain's policies. */
  traits: ChannelTraitsMap;
  log: Logger;
  metrics: Metrics;
  /** When unread messages escalate to nearline channels. */
  policy: FallbackPolicy;
  /** The per-user cap on intrusive channels (HERALD_CAP_PER_HOUR, caps.ts); absent: no cap. */
  caps?: Caps;
  /** Signs the capabilities a web push carries to its service worker (src/auth/capabilities.ts); absent: none. */
  capabilities?: Pick<Capabilities, 'receipt' | 'renewal'>;
  /** Signs the List-Unsubscribe link of each email (src/auth/unsubscribe.ts); absent (no usable HERALD_PUBLIC_URL): emails carry none. */
  unsubscribe?: UnsubscribeLinks;
  /** Users erased lately, heard of on `herald.users.erased` (erasure.ts); absent: none are checked. */
  erasures?: RecentErasures;
  /** Messages recalled lately, heard of on `herald.messages.recalled` (recent-recalls.ts); absent: triage reads every message back. */
  recalls?: RecentRecalls;
  now: () => number;
}
