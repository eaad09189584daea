/**
 * The two ways an email leaves Herald, behind one small interface:
 *  - SMTP: one pooled nodemailer transport for the process's life (connections reused, at most
 *    `maxConnections` open). A send whose every recipient was refused rejects with the SMTP error.
 *  - Outbox: nodemailer's stream transport renders the full RFC 5322 message (CRLF line ends),
 *    which is then written atomically into the outbox folder.
 * Both reject with the transport's own error (its `code` / `responseCode` intact) for
 * classify.ts to judge.
 */

import type { SendMailOptions } from 'nodemailer';
import nodemailer from 'nodemailer';
import type { Outbox } from './outbox.js';

export interface Sender {
  readonly kind: 'smtp' | 'outbox';
  /** Resolves with the provider's id of the accepted message. */
  send(mail: SendMailOptions, fileName: string): Promise<{ providerId: string; location?: string }>;
  close(): Promise<void>;
}

export function createSmtpSender(smtpUrl: string, maxConnections: number): Sender {
  const transport = nodemailer.createTransport({
    url: smtpUrl,
    pool: true,
    maxConnections,
    maxMessages: 100,
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 60_000,
    logger: false,
  });
  return {
    kind: 'smtp',
    async send(mail) {
      const info = await transport.sendMail(mail);
      const refused = info.rejectedErrors ?? [];
      if (info.accepted.length === 0 && refused[0]) throw refused[0];
      return { providerId: info.messageId };
    },
    async close() {
      transport.close();
    },
  };
}

export function createOutboxSender(outbox: Outbox): Sender {
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  return {
    kind: 'outbox',
    async send(mail, fileName) {
      const info = await transport.sendMail(mail);
      const content = Buffer.isBuffer(info.message) ? info.message : Buffer.from(String(info.message));
      const location = await outbox.write(fileName, content);
      return { providerId: info.messageId, location };
    },
    async close() {
      transport.close();
    },
  };
}
