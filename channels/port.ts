/**
 * Channel port: the only code that knows a provider. A channel takes a batch of deliveries and
 * answers one classified result per delivery, in the same order. It never throws for a
 * delivery's failure — it classifies it; a thrown error means the whole batch is retried.
 *
 * A channel is built once per process and kept for its life (one provider client, pooled
 * connections), never per send.
 *
 * A channel is its folder, channels/<name>/, which exports one ChannelDescriptor (below): what the
 * domain needs to know of it (its traits), its settings, its factory, and optionally the HTTP
 * hooks its provider calls back and the keys Herald generates for it. channels/registry.ts lists
 * the descriptors; nothing outside channels/ names a provider.
 */
import type { Bus } from '../src/bus/port.js';
import type { CoreConfig } from '../src/core-settings.js';
import type { AddressKind } from '../src/exchange/channel-traits.js';
import type { DeliveryRecipient } from '../src/exchange/recipient.js';
import type { ChannelName, Device, Message, Receipt, Urgency } from '../src/exchange/types.js';
import type { Logger } from '../src/observability/log.js';
import type { ConfigOf, SettingsTable } from '../src/settings.js';

export interface Delivery {
  message: Message;
  recipient: DeliveryRecipient;
  /** The device addressed, for push channels. */
  device?: Device;
  channel: ChannelName;
  /** 1 on the first attempt. */
  attempt: number;
  /**
   * Not the message but the withdrawal of its copy on this device (src/pipeline/withdraw.ts):
   * it was read elsewhere, or recalled. The channel sends what removes the notification where
   * the platform allows; its result is never a receipt of the message.
   */
  withdraw?: WithdrawReason;
  /** What the device's push carries for its service worker (web push): src/auth/capabilities.ts. */
  capabilities?: DeviceCapabilities;
  /**
   * Email: the one-click unsubscribe link (RFC 8058) for this recipient and the message's
   * category (or email), for the List-Unsubscribe header; absent when Herald has no public
   * https URL (HERALD_PUBLIC_URL): then the email carries none.
   */
  unsubscribe?: string;
  /** The older message of the same topic this one replaced in the recipient's inbox (the realtime frame says so). */
  replaces?: string;
}

export type WithdrawReason = 'read' | 'recall';

export interface DeviceCapabilities {
  /** Lets the worker report this message's receipts of this device. */
  receipt: string;
  /** Lets the worker replace this device's subscription when the browser rotates it. */
  renew?: string;
}

/** The outcome of one delivery, as a tagged union. */
export type DeliveryResult =
  /** `provider` names which of the channel's providers sent it, when it has several (channels/failover.ts). */
  | { type: 'sent'; providerId?: string; provider?: string }
  /**
   * `cause` says when the provider itself is the problem, not this delivery: `throttled` (429,
   * quota: the provider's gate pauses for `afterMs`) or `unavailable` (5xx, network, TLS: it
   * counts toward opening the provider's circuit). See channels/provider-gate.ts.
   */
  | { type: 'retry'; afterMs: number; reason: string; cause?: RetryCause }
  /**
   * Not attempted: the provider's gate is paused or its circuit open for longer than it holds a
   * request (channels/provider-gate.ts). Sent again at `untilMs` (epoch ms) at the same attempt:
   * a delivery that was never tried burns no retry.
   */
  | { type: 'deferred'; untilMs: number; reason: 'provider-paused' | 'circuit-open' }
  /** The address is gone for good (token unregistered, subscription expired): prune it. */
  | { type: 'invalid-recipient'; reason: string }
  | { type: 'failed'; reason: string };

export type RetryCause = 'throttled' | 'unavailable';

/** Called with a delivery's index in the batch and its result as soon as the provider answered. */
export type OnDeliveryResult = (index: number, result: DeliveryResult) => void;

/** One provider of a channel as its gate sees it (channels/provider-gate.ts), for /healthz and /metrics. */
export interface ProviderStatus {
  provider: string;
  circuit: 'closed' | 'open' | 'half-open';
  /** Epoch ms until which the provider asked not to be called; absent when it did not. */
  pausedUntil?: number;
  /** Requests allowed in flight now (adaptive). */
  limit: number;
  active: number;
  /** Requests waiting, per urgency. */
  queued: Record<Urgency, number>;
}

export interface Channel {
  readonly name: ChannelName;
  /**
   * Delivers the batch. A channel may also report each result early through `onResult` (the
   * worker records it at once, so a crash later in the batch never repeats that delivery);
   * the answer still holds every result.
   */
  deliver(batch: Delivery[], onResult?: OnDeliveryResult): Promise<DeliveryResult[]>;
  /** Its providers' gates, when it sends through some; the gates of idle providers may be left out. */
  providers?(): ProviderStatus[];
  close(): Promise<void>;
}

/** Wraps a one-delivery function so that each result is also reported early (see Channel.deliver). */
export const reportingEach =
  (deliverOne: (delivery: Delivery) => Promise<DeliveryResult>, onResult: OnDeliveryResult | undefined) =>
  async (delivery: Delivery, index: number): Promise<DeliveryResult> => {
    const result = await deliverOne(delivery);
    onResult?.(index, result);
    return result;
  };

/** What a channel's code reads of the configuration: the core settings and its own. */
export type ChannelConfig<S extends SettingsTable> = CoreConfig & ConfigOf<S>;

export interface ChannelContext<S extends SettingsTable = SettingsTable> {
  config: ChannelConfig<S>;
  bus: Bus;
  log: Logger;
  /** The channel's keys (ChannelDescriptor.keys): configured, or generated and kept in the data dir. */
  keys?: Readonly<Record<string, string>>;
}

/** A request to an inbound hook, as received: the API parses nothing but the query. */
export interface InboundRequest {
  headers: Record<string, string>;
  query: URLSearchParams;
  /** The body as UTF-8 text (undefined when the request had none). */
  body: string | undefined;
  /** The request's logger: its lines carry the request id. */
  log: Logger;
  /** When it arrived (epoch milliseconds): the time of the receipts it reports. */
  now: number;
}

/**
 * What an inbound hook answers. The API records `receipts` (store, metric, search index) before
 * answering; a status of 400 or more is answered as problem+json with `text` as its detail, any
 * other with `text` as its body (none when absent).
 */
export interface InboundAnswer {
  status: number;
  receipts?: Receipt[];
  text?: string;
}

/**
 * An HTTP endpoint a provider calls (a delivery status callback). Public: the hook authenticates
 * its caller itself (a provider's signature) and is not limited per client address. src/api mounts
 * each as a route, knowing nothing of the provider.
 */
export interface InboundHook {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  /** One line for the route list and the API document. */
  summary: string;
  /** What the hook does, whom it trusts. */
  description: string;
  /** The body the provider sends: its media type and what it holds. */
  body: { mediaType: string; description: string };
  /** The query parameters it reads: name → meaning. */
  query?: Readonly<Record<string, string>>;
  /** The request headers it reads: name → meaning (all required). */
  headers?: Readonly<Record<string, string>>;
  /** Every status it answers: status → meaning. */
  answers: Readonly<Record<number, string>>;
  handle(request: InboundRequest): Promise<InboundAnswer>;
}

/** Keys a channel needs that Herald can generate (e.g. VAPID), unless the settings give them. */
export interface ChannelKeys<S extends SettingsTable = SettingsTable> {
  /** The entry that keeps them in the data dir's secrets.json. */
  secretsEntry: string;
  /** The setting that configures each key: set all of them or none (then the generated ones are used). */
  settings: Readonly<Record<string, keyof S & string>>;
  generate(): Record<string, string>;
  /** The command that prints a new set as settings lines: `herald <name>`. */
  command: { name: string; summary: string; help: string };
}

/** Everything Herald knows of a channel. */
export interface ChannelDescriptor<S extends SettingsTable = SettingsTable, C extends Channel = Channel> {
  name: ChannelName;
  /** What its deliveries are addressed to (src/exchange/channel-traits.ts). */
  address: AddressKind;
  /** Interrupts the user: quiet hours hold it for a message below `high`. */
  intrusive: boolean;
  /** Reaches the user inside the app: allowed to in-app-only messages (a user's, under HERALD_USER_SEND=inapp). */
  inApp: boolean;
  /** Its HERALD_* settings, merged into the configuration table (src/config.ts). */
  settings: S;
  /** Groups of settings that only work together: setting some but not all of a group stops start-up. */
  requiredTogether?: ReadonlyArray<{ label: string; keys: ReadonlyArray<keyof S & string> }>;
  /** Why the channel cannot run with this configuration (e.g. missing credentials), or undefined when it can. */
  disabledReason(config: ChannelConfig<S>): string | undefined;
  /** Builds the channel once for the life of the process. */
  create(context: ChannelContext<S>): C;
  /** The hooks its provider calls; mounted whether or not the channel is enabled (they refuse when it is not). */
  inbound?(context: { config: ChannelConfig<S>; log: Logger }): InboundHook[];
  keys?: ChannelKeys<S>;
}
