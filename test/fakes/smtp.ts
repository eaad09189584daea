/**
 * A loopback SMTP server for tests (smtp-server, no TLS, no AUTH) on an ephemeral port of
 * 127.0.0.1. It records every accepted message with its envelope, parsed by mailparser, and can
 * be told to refuse a recipient at RCPT TO (550 by default) or to answer the next N messages'
 * DATA with a given code (451 by default). Oversized DATA is answered 552.
 */
import type { AddressInfo } from 'node:net';
import type { ParsedMail } from 'mailparser';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  envelope: { from: string | false; to: string[] };
  raw: Buffer;
  parsed: ParsedMail;
}

export interface SmtpFake {
  /** `smtp://127.0.0.1:<port>` */
  url: string;
  received: ReceivedMail[];
  /** Refuses `addr` (case-insensitive) at RCPT TO with `code` from now on. */
  rejectRecipient(addr: string, code?: number): void;
  /** Answers the DATA of the next `n` messages with `code` instead of accepting them. */
  failNext(n: number, code?: number): void;
  /** Resolves once `count` messages have been received in total; rejects after `timeoutMs`. */
  waitForMessages(count: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

export interface SmtpFakeOptions {
  /** Largest message accepted, in bytes. Default 10 MB. */
  size?: number;
}

const smtpError = (message: string, code: number): Error => Object.assign(new Error(message), { responseCode: code });

export async function startSmtpFake(options: SmtpFakeOptions = {}): Promise<SmtpFake> {
  const received: ReceivedMail[] = [];
  const rejected = new Map<string, number>();
  const failures: number[] = [];
  let waiters: Array<{ count: number; resolve: () => void }> = [];

  const record = (mail: ReceivedMail): void => {
    received.push(mail);
    waiters = waiters.filter((w) => {
      if (received.length < w.count) return true;
      w.resolve();
      return false;
    });
  };

  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    size: options.size ?? 10 * 1024 * 1024,
    closeTimeout: 200,
    onRcptTo(address, _session, callback) {
      const code = rejected.get(address.address.toLowerCase());
      if (code) return callback(smtpError(`<${address.address}>: mailbox unavailable`, code));
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', (err) => callback(err));
      stream.on('end', () => {
        if (stream.sizeExceeded) return callback(smtpError('message exceeds fixed maximum message size', 552));
        const failure = failures.shift();
        if (failure) return callback(smtpError('requested action aborted', failure));
        const raw = Buffer.concat(chunks);
        const envelope = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : (false as const),
          to: session.envelope.rcptTo.map((r) => r.address),
        };
        simpleParser(raw).then(
          (parsed) => {
            record({ envelope, raw, parsed });
            callback();
          },
          (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
        );
      });
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Errors after start (a client dropping its connection) are the client's business here.
  server.on('error', () => {});
  const { port } = server.server.address() as AddressInfo;

  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    rejectRecipient(addr, code = 550) {
      rejected.set(addr.toLowerCase(), code);
    },
    failNext(n, code = 451) {
      for (let i = 0; i < n; i++) failures.push(code);
    },
    waitForMessages(count, timeoutMs = 5_000) {
      if (received.length >= count) return Promise.resolve(received);
      return new Promise<ReceivedMail[]>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`smtp fake: ${received.length} of ${count} messages after ${timeoutMs} ms`)), timeoutMs);
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve(received);
          },
        });
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
