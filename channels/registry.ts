/**
 * The one place channels are registered: one line per channel folder. Everything else Herald
 * knows of its channels is derived from this list: the channel names the API accepts, the traits
 * the domain decides by (src/exchange/channel-traits.ts), the settings merged into the
 * configuration table (src/config.ts), the inbound hooks src/api mounts, the keys generated in the
 * data dir and their `herald` commands.
 *
 * A channel that cannot run with the configuration (missing credentials) is reported at start-up
 * and in /healthz, and triage skips it (suppressed, `channel-not-configured`, when a message asks
 * for it by name).
 */

import type { KeySource } from '../src/auth/secrets.js';
import type { Bus } from '../src/bus/port.js';
import type { CoreConfig } from '../src/core-settings.js';
import type { ChannelTraitsMap } from '../src/exchange/channel-traits.js';
import type { ChannelName } from '../src/exchange/types.js';
import type { Logger } from '../src/observability/log.js';
import type { ConfigOf, SettingsTable } from '../src/settings.js';
import { apnsDescriptor } from './apns/descriptor.js';
import { emailDescriptor } from './email/descriptor.js';
import type { EmailChannel } from './email/email-channel.js';
import { fcmDescriptor } from './fcm/descriptor.js';
import type { Channel, ChannelDescriptor, ChannelKeys, InboundHook, ProviderStatus } from './port.js';
import { realtimeDescriptor } from './realtime/descriptor.js';
import { smsDescriptor } from './sms/descriptor.js';
import { webpushDescriptor } from './webpush/descriptor.js';

export const CHANNEL_REGISTRY = [realtimeDescriptor, webpushDescriptor, apnsDescriptor, fcmDescriptor, emailDescriptor, smsDescriptor] as const;

type Registered = (typeof CHANNEL_REGISTRY)[number];
type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;

/** Every registered channel's names, in registration order. */
export const CHANNEL_NAMES = CHANNEL_REGISTRY.map((d) => d.name) as [ChannelName, ...ChannelName[]];

/** The settings of every channel, merged in registration order. */
export const CHANNEL_SETTINGS = Object.assign({}, ...CHANNEL_REGISTRY.map((d) => d.settings)) as UnionToIntersection<Registered['settings']>;

/** The whole configuration: the core settings and every channel's (src/config.ts Config). */
type Config = CoreConfig & ConfigOf<typeof CHANNEL_SETTINGS>;

/** The traits of every channel, for the domain's policies. */
export const CHANNEL_TRAITS: ChannelTraitsMap = new Map(
  CHANNEL_REGISTRY.map((d) => [d.name, { address: d.address, intrusive: d.intrusive, inApp: d.inApp }] as const),
);

/** The registry seen through the common descriptor type (each entry's settings type is its own). */
const descriptors = CHANNEL_REGISTRY as unknown as readonly ChannelDescriptor[];
const envOf = (key: string) => (CHANNEL_SETTINGS as SettingsTable)[key]?.env ?? key;
const keysOf = (keys: ChannelKeys) => Object.values(keys.settings);

/** Configuration problems of the channels' settings: a partial provider configuration, keys set only in part. */
export function channelSettingsProblems(config: Config): string[] {
  const values = config as unknown as Record<string, unknown>;
  const problems: string[] = [];
  for (const { requiredTogether, keys } of descriptors) {
    for (const group of requiredTogether ?? []) {
      const set = group.keys.filter((k) => values[k] !== undefined);
      if (set.length > 0 && set.length < group.keys.length) {
        const missing = group.keys.filter((k) => values[k] === undefined).map(envOf);
        problems.push(`${group.label} is partly configured: also set ${missing.join(', ')}`);
      }
    }
    if (keys) {
      const set = keysOf(keys).filter((k) => Boolean(values[k]));
      if (set.length > 0 && set.length < keysOf(keys).length) problems.push(`${keysOf(keys).map(envOf).join(' and ')} must be set together`);
    }
  }
  return problems;
}

/** Per channel with keys: whether they are configured (a cluster must not generate them per process), and the variables that do it. */
export const configuredChannelKeys = (config: Config): Array<[boolean, string]> =>
  descriptors.flatMap(({ keys }) =>
    keys ? [[Boolean((config as unknown as Record<string, unknown>)[keysOf(keys)[0] ?? '']), keysOf(keys).map(envOf).join(' and ')]] : [],
  );

/** What each channel with keys needs from the data dir's secrets (src/auth/secrets.ts). */
export function channelKeySources(config: Config): KeySource[] {
  const values = config as unknown as Record<string, string | undefined>;
  return descriptors.flatMap(({ name, keys }) => {
    if (!keys) return [];
    const entries = Object.entries(keys.settings).map(([key, setting]) => [key, values[setting]] as const);
    const configured = entries.every(([, value]) => value) ? (Object.fromEntries(entries) as Record<string, string>) : undefined;
    return [{ channel: name, secretsEntry: keys.secretsEntry, generate: keys.generate, ...(configured ? { configured } : {}) }];
  });
}

/** The `herald` commands that print a new set of a channel's keys as settings lines (e.g. vapid-keys). */
export const channelKeyCommands = (): Array<{ name: string; summary: string; help: string; print(): string }> =>
  descriptors.flatMap(({ keys }) =>
    keys
      ? [
          {
            ...keys.command,
            print: () => {
              const generated = keys.generate();
              return Object.entries(keys.settings)
                .map(([key, setting]) => `${envOf(setting)}=${generated[key]}\n`)
                .join('');
            },
          },
        ]
      : [],
  );

/** The inbound hooks of every registered channel, enabled or not. */
export const inboundHooks = (config: Config, log: Logger): InboundHook[] => descriptors.flatMap((d) => d.inbound?.({ config, log }) ?? []);

export interface ChannelSet {
  enabled: Map<ChannelName, Channel>;
  /** Why each registered but disabled channel is off. */
  disabled: Map<ChannelName, string>;
  email: EmailChannel;
}

export interface ChannelsContext {
  config: Config;
  bus: Bus;
  log: Logger;
  /** Each channel's keys (channelKeySources), configured or generated. */
  keys: ReadonlyMap<ChannelName, Readonly<Record<string, string>>>;
}

export function createChannels(context: ChannelsContext, registry: readonly ChannelDescriptor[] = descriptors): ChannelSet {
  const enabled = new Map<ChannelName, Channel>();
  const disabled = new Map<ChannelName, string>();
  for (const descriptor of registry) {
    const reason = descriptor.disabledReason(context.config);
    const keys = context.keys.get(descriptor.name);
    if (reason === undefined)
      enabled.set(descriptor.name, descriptor.create({ config: context.config, bus: context.bus, log: context.log, ...(keys ? { keys } : {}) }));
    else disabled.set(descriptor.name, reason);
  }
  return { enabled, disabled, email: enabled.get('email') as EmailChannel };
}

/** The providers' gates of the enabled channels, each named with its channel (for /healthz and /metrics). */
export function channelProviders(enabled: ReadonlyMap<string, Channel>): Array<ProviderStatus & { channel: ChannelName }> {
  return [...enabled.values()].flatMap((channel) => (channel.providers?.() ?? []).map((status) => ({ channel: channel.name, ...status })));
}
