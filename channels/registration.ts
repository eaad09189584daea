/**
 * What a channel folder exports to be registered: its name, when it can run, how it is built.
 * Adding a channel is one entry in channels/registry.ts.
 */
import type { Bus } from '../src/bus/port.js';
import type { Config } from '../src/config.js';
import type { ChannelName } from '../src/exchange/types.js';
import type { Logger } from '../src/observability/log.js';
import type { Channel } from './port.js';

export interface ChannelContext {
  config: Config;
  bus: Bus;
  log: Logger;
  vapid: { publicKey: string; privateKey: string; subject: string };
}

export interface ChannelRegistration<C extends Channel = Channel> {
  name: ChannelName;
  /** Why the channel cannot run with this configuration (e.g. missing credentials), or undefined when it can. */
  disabledReason(config: Config): string | undefined;
  /** Builds the channel once for the life of the process. */
  create(context: ChannelContext): C;
}
