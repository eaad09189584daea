/**
 * How the NATS bus names things on the wire. Pure functions, no I/O.
 *
 * Work travels under the stream prefix `P` (default `HERALD`), in one namespace per subject family,
 * each owned by one JetStream stream:
 *
 *   bus subject                     wire subject                   stream
 *   herald.accepted.<urgency>   ->  P.accepted.<urgency>           P_ACCEPTED
 *   herald.deliver.<channel>.<u> -> P.deliver.<channel>.<u>       P_DELIVER
 *   herald.dead.<subject>       ->  P.dead.<subject>               P_DEAD
 *   anything else, <s>          ->  P.work.<s>                     P_WORK
 *
 * The mapping is a bijection, so a wire subject read back from a consumer's filter maps to exactly
 * one bus subject (`busSubjectOf`). Prefixing does two jobs: streams of different prefixes never
 * overlap (JetStream refuses overlapping streams, and tests use a prefix each), and work on subject
 * `s` never reaches a core-NATS signal subscriber of the same `s`. Signals are not mapped: they use
 * the bus subject as is (`herald.rt.user.<uid>`), so operators can watch them with `nats sub`.
 */
import { createHash } from 'node:crypto';

const PREFIX_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
/** Dot-separated non-empty tokens without whitespace or wildcards. */
const SUBJECT_PATTERN = /^[^\s.*>]+(\.[^\s.*>]+)*$/;

export type StreamFamily = 'accepted' | 'deliver' | 'dead' | 'work';

export interface StreamDef {
  name: string;
  family: StreamFamily;
  /** Wire subjects the stream captures. */
  subject: string;
}

const FAMILY_OF_BUS_PREFIX: Array<[string, StreamFamily]> = [
  ['herald.accepted.', 'accepted'],
  ['herald.deliver.', 'deliver'],
  ['herald.dead.', 'dead'],
];

export function validatePrefix(prefix: string): string {
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new TypeError(`NATS bus streamPrefix must be 1-32 of [A-Za-z0-9_-], got ${JSON.stringify(prefix)}`);
  }
  return prefix;
}

export function validateSubject(subject: string): string {
  if (typeof subject !== 'string' || !SUBJECT_PATTERN.test(subject)) {
    throw new TypeError(`not a bus subject (dot-separated tokens, no spaces or wildcards): ${JSON.stringify(subject)}`);
  }
  return subject;
}

export function streamDefs(prefix: string): StreamDef[] {
  const families: StreamFamily[] = ['accepted', 'deliver', 'dead', 'work'];
  return families.map((family) => ({ name: `${prefix}_${family.toUpperCase()}`, family, subject: `${prefix}.${family}.>` }));
}

export function familyOf(subject: string): { family: StreamFamily; rest: string } {
  for (const [busPrefix, family] of FAMILY_OF_BUS_PREFIX) {
    if (subject.startsWith(busPrefix)) return { family, rest: subject.slice(busPrefix.length) };
  }
  return { family: 'work', rest: subject };
}

export function streamNameOf(prefix: string, subject: string): string {
  return `${prefix}_${familyOf(subject).family.toUpperCase()}`;
}

export function wireSubjectOf(prefix: string, subject: string): string {
  const { family, rest } = familyOf(validateSubject(subject));
  return `${prefix}.${family}.${rest}`;
}

/** The bus subject of a wire subject of this prefix, or undefined when it is not one. */
export function busSubjectOf(prefix: string, wire: string): string | undefined {
  if (!wire.startsWith(`${prefix}.`)) return undefined;
  const tail = wire.slice(prefix.length + 1);
  const dot = tail.indexOf('.');
  if (dot < 0) return undefined;
  const family = tail.slice(0, dot);
  const rest = tail.slice(dot + 1);
  if (family === 'work') return rest;
  if (family === 'accepted' || family === 'deliver' || family === 'dead') return `herald.${family}.${rest}`;
  return undefined;
}

const unsafe = /[^A-Za-z0-9_-]/g;

/**
 * The durable consumer of `group` on `subject`: readable (group, then the tail of the subject,
 * which is where urgency or channel sits) and unique (a hash of both, since sanitising may merge
 * distinct names).
 */
export function durableName(group: string, subject: string): string {
  const hash = createHash('sha256').update(`${group}\n${subject}`).digest('hex').slice(0, 12);
  return `${group.replace(unsafe, '_').slice(0, 32)}__${subject.replace(unsafe, '_').slice(-64)}__${hash}`;
}
