/**
 * JetStream administration for the NATS bus: the four work streams and the durable pull
 * consumers, both created or brought up to date idempotently (several processes may race to
 * create the same one; whoever loses re-reads what the winner made).
 *
 * Streams: limits retention (every consumer group keeps its own cursor, and work published before
 * any consumer exists is kept for the first one, as the Bus port requires; interest retention
 * would drop it), file storage, a maximum age, discard-old. Acknowledged work is therefore not
 * deleted at once: it ages out after `maxAge` (dead letters after `deadMaxAge`).
 *
 * Consumers: one durable pull consumer per (group, subject), filtered on the subject's wire name,
 * explicit ack, `ack_wait` from the bus options, and `max_deliver: -1`. The adapter enforces the
 * port's `maxDeliver` itself: on nats-server 2.9 a message past the server's `max_deliver` is only
 * announced by an advisory and left behind, whereas the port wants it in `herald.dead.<subject>`;
 * an attempt beyond `maxDeliver` (after a crash on the last attempt or a failed dead-letter
 * publish) is dead-lettered without running the handler.
 *
 * Where a new group starts: the first group of a subject starts at the oldest retained message
 * (it takes the backlog, like the memory bus's unclaimed queue); a later group starts at the time
 * its first member asked for it, less `START_SLACK_MS` for clock skew, rather than replaying the
 * whole retained history of a subject the other groups have long handled.
 */
import type { ConsumerConfig, JetStreamManager, StreamConfig } from 'nats';
import { AckPolicy, DeliverPolicy, DiscardPolicy, ErrorCode, NatsError, nanos, RetentionPolicy, StorageType } from 'nats';
import type { StreamDef } from './naming.js';

/** nats-server API error codes (server/errors.json), stable across releases. */
const JS_STREAM_NOT_FOUND = 10059;
const JS_CONSUMER_NOT_FOUND = 10014;

/** How far before the first `consume()` call a later group starts, for clock skew between hosts. */
export const START_SLACK_MS = 2_000;
const DUPLICATE_WINDOW_MS = 120_000;

export function isStreamNotFound(err: unknown): boolean {
  return err instanceof NatsError && err.api_error?.err_code === JS_STREAM_NOT_FOUND;
}

export function isConsumerNotFound(err: unknown): boolean {
  return err instanceof NatsError && err.api_error?.err_code === JS_CONSUMER_NOT_FOUND;
}

/** No stream answered a publish (deleted under us) or JetStream is off: both are "503". */
export function isNoResponders(err: unknown): boolean {
  return err instanceof NatsError && (err.code === ErrorCode.NoResponders || err.code === ErrorCode.JetStreamNotEnabled);
}

export interface StreamLimits {
  maxAgeMs: number;
  deadMaxAgeMs: number;
  replicas: number;
}

function streamConfig(def: StreamDef, limits: StreamLimits): Partial<StreamConfig> {
  return {
    name: def.name,
    subjects: [def.subject],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(def.family === 'dead' ? limits.deadMaxAgeMs : limits.maxAgeMs),
    num_replicas: limits.replicas,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
  };
}

/** Creates each stream, or updates the settings this adapter owns when they drifted. */
export async function ensureStreams(jsm: JetStreamManager, defs: StreamDef[], limits: StreamLimits): Promise<void> {
  for (const def of defs) {
    const wanted = streamConfig(def, limits);
    let current: StreamConfig;
    try {
      current = (await jsm.streams.info(def.name)).config;
    } catch (err) {
      if (!isStreamNotFound(err)) throw err;
      try {
        await jsm.streams.add(wanted);
        continue;
      } catch (addErr) {
        // Lost a creation race with another process: fall through and compare with its stream.
        try {
          current = (await jsm.streams.info(def.name)).config;
        } catch {
          throw addErr;
        }
      }
    }
    if (current.retention !== RetentionPolicy.Limits) {
      // Work-queue or interest retention would silently break "every group gets every message".
      throw new Error(`stream ${def.name} exists with retention "${current.retention}"; the bus needs "limits": delete or rename it`);
    }
    const drifted = current.subjects.length !== 1 || current.subjects[0] !== def.subject || current.max_age !== wanted.max_age;
    if (drifted) {
      await jsm.streams.update(def.name, { ...current, subjects: [def.subject], max_age: wanted.max_age ?? current.max_age });
    }
  }
}

export interface ConsumerSpec {
  stream: string;
  durable: string;
  filterSubject: string;
  ackWaitMs: number;
  /** When the first member of this group asked for the subject (epoch ms). */
  requestedAt: number;
}

/** Creates the durable consumer if missing; fixes `ack_wait` if another setting left it different. */
export async function ensureConsumer(jsm: JetStreamManager, spec: ConsumerSpec): Promise<void> {
  const ackWait = nanos(spec.ackWaitMs);
  try {
    const info = await jsm.consumers.info(spec.stream, spec.durable);
    if (info.config.ack_wait !== ackWait) await jsm.consumers.update(spec.stream, spec.durable, { ack_wait: ackWait });
    return;
  } catch (err) {
    if (!isConsumerNotFound(err)) throw err;
  }
  let groupsBefore = false;
  for await (const c of jsm.consumers.list(spec.stream)) {
    if (c.config.filter_subject === spec.filterSubject) {
      groupsBefore = true;
      break;
    }
  }
  const config: Partial<ConsumerConfig> = {
    durable_name: spec.durable,
    filter_subject: spec.filterSubject,
    ack_policy: AckPolicy.Explicit,
    ack_wait: ackWait,
    max_deliver: -1,
    max_ack_pending: 20_000,
    ...(groupsBefore
      ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(spec.requestedAt - START_SLACK_MS).toISOString() }
      : { deliver_policy: DeliverPolicy.All }),
  };
  try {
    await jsm.consumers.add(spec.stream, config);
  } catch (err) {
    // Another member of the group created it first (possibly with another start time): use theirs.
    try {
      await jsm.consumers.info(spec.stream, spec.durable);
    } catch {
      throw err;
    }
  }
}
