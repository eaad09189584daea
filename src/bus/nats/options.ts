/** Options and public type of the NATS bus (src/bus/nats/bus.ts); defaults are applied there. */
import type { Bus } from '../port.js';
import type { BusLogger } from './member.js';

export interface NatsBusOptions {
  /** Comma-separated NATS URLs, e.g. `nats://127.0.0.1:4222`. */
  servers: string;
  /** Connection name shown by the server (`nats server report connections`). Default `herald`. */
  name?: string;
  /** Names the streams (`<prefix>_ACCEPTED`, …) and prefixes work subjects. Default `HERALD`. */
  streamPrefix?: string;
  logger?: BusLogger;
  /** How long a PubAck may take before `publish` rejects. Default 5 000. */
  publishTimeoutMs?: number;
  /** How long a delivered message may go unacknowledged before redelivery. Default 30 000. */
  ackWaitMs?: number;
  /** Lifetime of one pull request (nats.js minimum 1 000). Default 5 000. */
  pullExpiresMs?: number;
  /** How long work is retained. Default 3 days. */
  maxAgeMs?: number;
  /** How long dead letters are retained. Default 14 days. */
  deadMaxAgeMs?: number;
  /** Stream replicas (clustered JetStream). Default 1. */
  replicas?: number;
  /** Age after which `depths()` starts a new reading. Default 5 000. */
  depthsMaxAgeMs?: number;
  /** Timeout of the first connection. Default 5 000. */
  connectTimeoutMs?: number;
  /**
   * How far apart the clocks of the NATS servers may be: work published less than this after
   * its consumer was created is not fresh (WorkMessage.fresh). Default 5 000.
   */
  clockSkewMs?: number;
}

export interface NatsBus extends Bus {
  /** Unacknowledged work per subject, from the last reading (see header). */
  depths(): Record<string, number>;
  /** Reads the depths from JetStream now. */
  refreshDepths(): Promise<Record<string, number>>;
}
