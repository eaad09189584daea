/**
 * Classifies a failed email send into a DeliveryResult, from the error's `code`,
 * `responseCode` and `command` fields only (never its message text):
 *  - RCPT TO refused with 550/551/553            → invalid-recipient (the address is bad)
 *  - any other permanent 5xx (every 5xx but 503) → failed
 *  - 4xx, 503, network and timeout errors, auth  → retry after 30 s × attempt (at most 10 min);
 *    421 (service not available), network, timeout and auth errors are the server's, not the
 *    message's: `unavailable` (they count toward its circuit, channels/provider-gate.ts)
 *  - outbox file-system errors                   → retry (disk full, permissions: fixable)
 *  - anything else                               → failed
 */
import { providerBackoff } from '../../src/retry.js';
import type { DeliveryResult } from '../port.js';

/** SMTP replies that mean "no such mailbox / not here / bad address" when answering RCPT TO. */
const BAD_RECIPIENT = new Set([550, 551, 553]);

/** Error codes (nodemailer's and Node's) of a connection or session that went wrong: retry. */
const TRANSIENT_CODES = new Set([
  'ECONNECTION',
  'ETIMEDOUT',
  'ESOCKET',
  'EDNS',
  'ETLS',
  'EPROTOCOL',
  'EPROXY',
  'EMAXLIMIT',
  'EAUTH',
  'ENOAUTH',
  'EOAUTH2',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** File-system errors writing the outbox: the operator can fix them, the message is fine. */
const FS_CODES = new Set(['ENOSPC', 'EACCES', 'EPERM', 'EROFS', 'EMFILE', 'ENFILE', 'EIO', 'EDQUOT', 'ENOENT', 'EBUSY']);

export interface SendError {
  code?: unknown;
  responseCode?: unknown;
  command?: unknown;
}

const fieldsOf = (err: unknown): SendError => (typeof err === 'object' && err !== null ? (err as SendError) : {});

export function classifySendError(err: unknown, attempt: number): DeliveryResult {
  const { code, responseCode, command } = fieldsOf(err);
  const codeText = typeof code === 'string' ? code : undefined;
  const reply = typeof responseCode === 'number' ? responseCode : undefined;

  if (reply !== undefined) {
    const reason = `smtp-${reply}`;
    if (reply === 421) return { type: 'retry', afterMs: providerBackoff(attempt), reason, cause: 'unavailable' };
    if (reply >= 400 && reply < 500) return { type: 'retry', afterMs: providerBackoff(attempt), reason };
    if (reply === 503) return { type: 'retry', afterMs: providerBackoff(attempt), reason };
    if (reply >= 500 && reply < 600) {
      const atRecipient = codeText === 'EENVELOPE' && (command === undefined || command === 'RCPT TO');
      if (atRecipient && BAD_RECIPIENT.has(reply)) return { type: 'invalid-recipient', reason };
      return { type: 'failed', reason };
    }
  }
  if (codeText && TRANSIENT_CODES.has(codeText)) {
    return { type: 'retry', afterMs: providerBackoff(attempt), reason: `smtp-${codeText.toLowerCase()}`, cause: 'unavailable' };
  }
  if (codeText && FS_CODES.has(codeText)) {
    return { type: 'retry', afterMs: providerBackoff(attempt), reason: `outbox-${codeText.toLowerCase()}` };
  }
  return { type: 'failed', reason: codeText ? `email-${codeText.toLowerCase()}` : 'email-error' };
}
