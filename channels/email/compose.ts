/**
 * Turns one email Delivery into the mail to send, without I/O. Guarantees:
 *  - The same (messageId, uid) always gives the same Message-ID header, so a redelivery is
 *    recognisable as a duplicate by the receiving side.
 *  - Subject precedence: message.email.subject, else the rendered subject template, else
 *    message.title, else the first 78 characters of msg; always a single line.
 *  - Template context: the message's vars, then `vars`, `msg`, `title`, `link`, `data`, `uid`
 *    (the message's own fields win over vars of the same name). `link` is only passed when it
 *    is an http(s) or mailto URL, so a template cannot emit a `javascript:` link.
 *  - With the delivery's unsubscribe link (src/auth/unsubscribe.ts), the email carries
 *    `List-Unsubscribe: <link>` and `List-Unsubscribe-Post: List-Unsubscribe=One-Click`
 *    (RFC 8058), and templates get it as `unsubscribeUrl`; without one, neither.
 *  - A delivery that cannot become an email is answered with its classified result instead.
 */
import { createHash } from 'node:crypto';
import type { SendMailOptions } from 'nodemailer';
import type { Delivery, DeliveryResult } from '../port.js';
import type { TemplateSet } from './templates.js';

export const DEFAULT_TEMPLATE = 'default';
const SUBJECT_MAX = 78;

export type Composed = { ok: true; mail: SendMailOptions; to: string } | { ok: false; result: DeliveryResult };

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** The domain part of the From address, for Message-ID's right-hand side. */
export function domainOf(from: string): string {
  const match = /@([A-Za-z0-9.-]+)>?\s*$/.exec(from);
  return match?.[1] ?? 'herald.invalid';
}

/** `<messageId.hash(uid)@domain>`; the id is hashed too when it holds unsafe characters. */
export function messageIdHeader(messageId: string, uid: string, domain: string): string {
  const left = /^[A-Za-z0-9-]{1,100}$/.test(messageId) ? `${messageId}.${sha256(uid).slice(0, 16)}` : sha256(`${messageId}\n${uid}`).slice(0, 40);
  return `<${left}@${domain}>`;
}

const oneLine = (text: string): string => text.replace(/\s+/g, ' ').trim();

export function safeLink(link: string | undefined): string | undefined {
  if (!link) return undefined;
  try {
    const url = new URL(link);
    return ['http:', 'https:', 'mailto:'].includes(url.protocol) ? link : undefined;
  } catch {
    return undefined;
  }
}

export function composeEmail(delivery: Delivery, templates: TemplateSet, from: string): Composed {
  const { message, recipient } = delivery;
  const to = recipient.email?.trim();
  if (!to) return { ok: false, result: { type: 'failed', reason: 'no-email-address' } };

  const template = message.email?.template ?? DEFAULT_TEMPLATE;
  if (!templates.has(template)) return { ok: false, result: { type: 'failed', reason: `unknown-template:${template}` } };

  const vars = message.email?.vars ?? {};
  const context: Record<string, unknown> = {
    ...vars,
    vars,
    msg: message.msg,
    title: message.title,
    link: safeLink(message.link),
    data: message.data ?? {},
    uid: recipient.uid,
    unsubscribeUrl: delivery.unsubscribe,
  };

  let rendered: ReturnType<TemplateSet['render']>;
  try {
    rendered = templates.render(template, context);
  } catch {
    return { ok: false, result: { type: 'failed', reason: `template-error:${template}` } };
  }

  const subject =
    [message.email?.subject, rendered.subject, message.title].map((s) => (s ? oneLine(s) : '')).find((s) => s) ??
    Array.from(oneLine(message.msg)).slice(0, SUBJECT_MAX).join('');

  const mail: SendMailOptions = {
    from,
    to,
    subject,
    messageId: messageIdHeader(message.id, recipient.uid, domainOf(from)),
    date: new Date(message.createdAt),
    headers: {
      'X-Herald-Message-Id': message.id,
      ...(delivery.unsubscribe ? { 'List-Unsubscribe': `<${delivery.unsubscribe}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' } : {}),
    },
  };
  if (rendered.html !== undefined) mail.html = rendered.html;
  if (rendered.text !== undefined) mail.text = rendered.text;
  return { ok: true, mail, to };
}
