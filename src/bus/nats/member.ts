/**
 * One member of a consumer group on the NATS bus: a bounded-concurrency pull loop over the
 * group's durable consumer.
 *
 * Bounded: the member never holds more messages than `concurrency`. It counts the handlers
 * running (`active`) and the capacity of its open pull requests (`requested`), and only asks the
 * server for `concurrency - active - requested` more. A message is therefore never parked in a
 * client buffer while another member of the group has a free slot (the nats.js `consume()` API
 * refills on receipt, not on completion, so it would hold up to twice its window).
 * To keep the number of open pull requests small, a new one is sent while others are open only
 * once a quarter of the window is free.
 *
 * Settling, per delivery (`attempt` = the server's delivery count):
 *  - handler resolves → `ack()`;
 *  - handler throws, attempt < maxDeliver → `nak(backoff(attempt))` (redelivery after the delay);
 *  - handler throws at attempt maxDeliver, or the payload is not JSON, or attempt > maxDeliver
 *    (the last attempt's process died, or the dead-letter publish failed) → the original bytes
 *    are published (JetStream, awaited) to `herald.dead.<subject>` and the message `term()`ed;
 *    if that publish fails it is `nak`ed and dead-lettering is tried again on the next delivery.
 *    Dead letters of dead-letter subjects are dropped (logged), as in the memory bus.
 *  - while a handler runs, `working()` is sent every ackWait/3 so long handlers keep their message.
 */
import type { Consumer, ConsumerMessages, JetStreamClient, JsMsg } from 'nats';
import type { ConsumeOptions, WorkHandler } from '../port.js';
import { DEFAULT_MAX_DELIVER, defaultBackoff, subjects } from '../port.js';

export interface BusLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface MemberContext {
  js: JetStreamClient;
  logger: BusLogger | undefined;
  ackWaitMs: number;
  pullExpiresMs: number;
  /** NatsBusOptions.clockSkewMs: work published this soon after its consumer's creation is not fresh. */
  clockSkewMs: number;
  /** Makes sure the durable consumer exists (re-creating streams if they vanished). */
  ensure(): Promise<void>;
  /** Publishes raw bytes as work on a bus subject; rejects when JetStream did not acknowledge. */
  publishRaw(subject: string, payload: Uint8Array, headers?: Record<string, string>): Promise<void>;
  /** Registers a running handler so that close() can wait for it. */
  track(settled: Promise<void>): void;
}

const DEAD_PREFIX = subjects.dead('');
const RETRY_MS = 1_000;
const decoder = new TextDecoder();

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms).unref();
  });

/** Header values may not hold line breaks; keep them short. */
const headerValue = (text: string): string => text.replace(/[\r\n]+/g, ' ').slice(0, 512);

export class Member<T> {
  private readonly concurrency: number;
  private readonly maxDeliver: number;
  private readonly backoff: (attempt: number) => number;
  private readonly minBatch: number;
  private consumer: Consumer | undefined;
  /** When the consumer bound to was created (the server's clock): work published before it is not fresh. */
  private consumerCreatedMs = Number.POSITIVE_INFINITY;
  /** The consumer's delivery sequence of the last message handed here: it only grows, unless the consumer was made again. */
  private lastDeliverySequence = 0;
  /** When the creation time was last read (Date.now()), and whether a read is under way. */
  private creationReadAt = 0;
  private readingCreation = false;
  private starting: Promise<void> | undefined;
  private readonly fetches = new Set<ConsumerMessages>();
  private active = 0;
  private requested = 0;
  private stopped = false;

  constructor(
    private readonly ctx: MemberContext,
    private readonly stream: string,
    private readonly durable: string,
    private readonly subject: string,
    private readonly handler: WorkHandler<T>,
    options: ConsumeOptions,
  ) {
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? 1));
    this.maxDeliver = Math.max(1, Math.floor(options.maxDeliver ?? DEFAULT_MAX_DELIVER));
    this.backoff = options.backoff ?? defaultBackoff;
    this.minBatch = Math.max(1, Math.ceil(this.concurrency / 4));
  }

  start(): void {
    this.bind();
  }

  /** Stops asking for work; messages already received but not started go back at once. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const f of this.fetches) f.stop();
  }

  /** Looks the consumer up (creating it if needed) until it works or the member stops. */
  private bind(): void {
    if (this.starting || this.stopped) return;
    this.starting = (async () => {
      while (!this.stopped) {
        try {
          await this.ctx.ensure();
          const consumer = await this.ctx.js.consumers.get(this.stream, this.durable);
          // `get` has just read the consumer's info: the cached copy is current.
          this.consumerCreatedMs = Date.parse((await consumer.info(true)).created);
          this.creationReadAt = Date.now();
          this.lastDeliverySequence = 0;
          this.consumer = consumer;
          return;
        } catch (err) {
          this.ctx.logger?.warn({ err, subject: this.subject, consumer: this.durable }, 'bus: consumer not ready, retrying');
          await sleep(RETRY_MS);
        }
      }
    })().finally(() => {
      this.starting = undefined;
      this.pump();
    });
  }

  private pump(): void {
    if (this.stopped || !this.consumer) return;
    const free = this.concurrency - this.active - this.requested;
    if (free <= 0) return;
    if (this.fetches.size > 0 && free < this.minBatch) return;
    void this.fetch(this.consumer, free);
  }

  private async fetch(consumer: Consumer, batch: number): Promise<void> {
    // A consumer made again by another process, unnoticed here (no pull failed, no sequence went
    // back), is found by reading its creation time again now and then.
    if (Date.now() - this.creationReadAt > this.ctx.ackWaitMs) this.rereadCreation();
    this.requested += batch;
    let received = 0;
    let messages: ConsumerMessages | undefined;
    let failure: unknown;
    const began = Date.now();
    try {
      messages = await consumer.fetch({ max_messages: batch, expires: this.ctx.pullExpiresMs });
      this.fetches.add(messages);
      if (this.stopped) messages.stop();
      for await (const m of messages) {
        if (received === batch) {
          // After a reconnect nats.js re-issues the pull, which may bring more than was asked for.
          m.nak();
          continue;
        }
        received++;
        this.requested--;
        this.dispatch(m);
        if (received === batch) messages.stop();
      }
    } catch (err) {
      failure = err;
    } finally {
      if (messages) this.fetches.delete(messages);
      this.requested -= batch - received;
    }
    if (this.stopped) return;
    if (failure !== undefined) {
      // Consumer or stream deleted under us, permissions, connection closed: look it up again.
      this.ctx.logger?.warn({ err: failure, subject: this.subject, consumer: this.durable }, 'bus: pull failed, rebinding');
      this.consumer = undefined;
      await sleep(RETRY_MS);
      this.bind();
      return;
    }
    // A pull that ends empty at once (server refusing requests) must not become a busy loop.
    if (received === 0 && Date.now() - began < RETRY_MS) await sleep(RETRY_MS);
    this.pump();
  }

  private dispatch(m: JsMsg): void {
    if (this.stopped) {
      m.nak();
      return;
    }
    this.active++;
    const settled = this.settle(m)
      .catch((err: unknown) => {
        this.ctx.logger?.error({ err, subject: this.subject }, 'bus: settling a message failed');
      })
      .finally(() => {
        this.active--;
        this.pump();
      });
    this.ctx.track(settled);
  }

  private async settle(m: JsMsg): Promise<void> {
    const attempt = m.info.deliveryCount;
    const fresh = this.isFresh(m, attempt);
    if (attempt > this.maxDeliver) {
      await this.deadLetter(m, attempt, new Error(`delivered ${attempt} times, more than maxDeliver ${this.maxDeliver}`));
      return;
    }
    let data: T;
    try {
      data = JSON.parse(decoder.decode(m.data)) as T;
    } catch (err) {
      await this.deadLetter(m, attempt, err);
      return;
    }
    const heartbeat = setInterval(() => m.working(), Math.max(100, Math.floor(this.ctx.ackWaitMs / 3)));
    heartbeat.unref();
    let failure: unknown;
    try {
      await this.handler({ subject: this.subject, data, attempt, fresh });
    } catch (err) {
      failure = err ?? new Error('handler rejected without a reason');
    } finally {
      clearInterval(heartbeat);
    }
    if (failure === undefined) {
      m.ack();
    } else if (attempt >= this.maxDeliver) {
      await this.deadLetter(m, attempt, failure);
    } else {
      this.ctx.logger?.warn({ err: failure, subject: this.subject, attempt }, 'bus: handler failed, redelivering');
      m.nak(this.delay(attempt));
    }
  }

  /**
   * A first delivery of work published after the consumer was created. A consumer deleted and
   * made again (bind, admin.ts) starts from the stream's retained work, which its predecessor may
   * have handed out already: that work was published before the new consumer's creation.
   * `clockSkewMs` covers NATS servers of a cluster whose clocks differ. A consumer made again by
   * another process while this one kept pulling shows as a delivery sequence that went back, or
   * at the next reading of its creation time (every ackWaitMs): until that reading is back,
   * nothing is fresh. Best effort, on the side of reading back: called in delivery order.
   */
  private isFresh(m: JsMsg, attempt: number): boolean {
    const sequence = m.info.deliverySequence;
    if (sequence <= this.lastDeliverySequence) this.rereadCreation();
    this.lastDeliverySequence = sequence;
    return attempt === 1 && m.info.timestampNanos / 1e6 > this.consumerCreatedMs + this.ctx.clockSkewMs;
  }

  /** Reads the consumer's creation time again; nothing is fresh until it is back (a failed read is tried at the next fetch). */
  private rereadCreation(): void {
    const consumer = this.consumer;
    this.consumerCreatedMs = Number.POSITIVE_INFINITY;
    if (!consumer || this.readingCreation) return;
    this.readingCreation = true;
    consumer
      .info()
      .then(
        (info) => {
          if (this.consumer !== consumer) return;
          this.consumerCreatedMs = Date.parse(info.created);
          this.creationReadAt = Date.now();
        },
        (err: unknown) =>
          this.ctx.logger?.warn(
            { err, subject: this.subject, consumer: this.durable },
            'bus: consumer info unavailable; its work is not fresh until it is read',
          ),
      )
      .finally(() => {
        this.readingCreation = false;
      });
  }

  private async deadLetter(m: JsMsg, attempt: number, cause: unknown): Promise<void> {
    this.ctx.logger?.error({ err: cause, subject: this.subject, attempt }, 'bus: dead-lettering message');
    if (this.subject.startsWith(DEAD_PREFIX)) {
      m.term();
      return;
    }
    const reason = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    try {
      await this.ctx.publishRaw(subjects.dead(this.subject), m.data, {
        'Herald-Dead-Subject': this.subject,
        'Herald-Dead-Attempts': String(attempt),
        'Herald-Dead-Reason': headerValue(reason),
      });
      m.term();
    } catch (err) {
      this.ctx.logger?.error({ err, subject: this.subject, attempt }, 'bus: dead-letter publish failed, will retry on redelivery');
      m.nak(this.delay(attempt));
    }
  }

  private delay(attempt: number): number {
    const ms = this.backoff(attempt);
    return Number.isFinite(ms) && ms > 0 ? Math.ceil(ms) : 0;
  }
}
