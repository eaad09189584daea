/**
 * Queue depths of the NATS bus, read from JetStream (so they cover every process, not only
 * this one). Per bus subject:
 *  - with consumers: the sum over its groups of `num_pending` (not yet delivered) plus
 *    `num_ack_pending` (delivered, not yet acknowledged: being handled or waiting to be redelivered);
 *  - without any consumer: the messages the stream retains on it, i.e. what the first group would
 *    receive (for dead letters nobody consumes, the dead letters of the last `deadMaxAge`).
 * Subjects whose messages have all aged out are not listed.
 */
import type { JetStreamManager } from 'nats';
import { busSubjectOf, type StreamDef } from './naming.js';

export async function readDepths(jsm: JetStreamManager, prefix: string, defs: StreamDef[]): Promise<Record<string, number>> {
  const depths: Record<string, number> = {};
  for (const def of defs) {
    const consumed = new Set<string>();
    for await (const c of jsm.consumers.list(def.name)) {
      const subject = busSubjectOf(prefix, c.config.filter_subject ?? '');
      if (subject === undefined) continue;
      consumed.add(subject);
      depths[subject] = (depths[subject] ?? 0) + c.num_pending + c.num_ack_pending;
    }
    const info = await jsm.streams.info(def.name, { subjects_filter: '>' });
    for (const [wire, count] of Object.entries(info.state.subjects ?? {})) {
      const subject = busSubjectOf(prefix, wire);
      if (subject !== undefined && !consumed.has(subject)) depths[subject] = count;
    }
  }
  return depths;
}
