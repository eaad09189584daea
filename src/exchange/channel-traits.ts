/**
 * What the domain knows of a channel: plain data per channel name, built by the registry
 * (channels/registry.ts) from each channel's descriptor and passed to the policies (plan.ts,
 * fallback.ts, send-policy.ts), which decide by trait and never by a channel's name.
 */
import type { ChannelName, DeviceKind } from './types.js';

/**
 * What a delivery on the channel is addressed to: the user's live sockets, one of their devices
 * of that kind (each device is a delivery of its own), their email address, their phone number.
 */
export type AddressKind = 'socket' | `device:${DeviceKind}` | 'email' | 'phone';

export interface ChannelTraits {
  address: AddressKind;
  /** Interrupts the user (a push, an SMS): quiet hours hold it for a message below `high`. */
  intrusive: boolean;
  /** Reaches the user inside the app (socket, push): the only channels an in-app-only message may use. */
  inApp: boolean;
}

/** The traits of every registered channel, in registration order. */
export type ChannelTraitsMap = ReadonlyMap<ChannelName, ChannelTraits>;

/** The channels whose deliveries go to that kind of address, in registration order. */
export const channelsAddressing = (traits: ChannelTraitsMap, address: AddressKind): ChannelName[] =>
  [...traits].filter(([, t]) => t.address === address).map(([name]) => name);

/** The channels allowed to in-app-only messages, in registration order. */
export const inAppChannels = (traits: ChannelTraitsMap): ChannelName[] => [...traits].filter(([, t]) => t.inApp).map(([name]) => name);

/** Whether the channel delivers to live sockets (the realtime channel): no provider, no queued receipt, clients dedupe. */
export const addressesSockets = (traits: ChannelTraitsMap, name: ChannelName): boolean => traits.get(name)?.address === 'socket';

/** Whether any registered channel delivers to devices (then triage reads the recipients' devices). */
export const addressesDevices = (traits: ChannelTraitsMap, among: Iterable<ChannelName>): boolean =>
  [...among].some((name) => traits.get(name)?.address.startsWith('device:') ?? false);
