/**
 * The text of an SMS: the message's `sms.text` override, else `title: msg` (or `msg` alone), with
 * the link on its own line when there is one and the text does not already hold it. Twilio
 * refuses bodies over 1600 characters (error 21617), so longer text is cut with an ellipsis —
 * the link is kept whole.
 */
import type { Message } from '../../src/exchange/types.js';

export const SMS_MAX_CHARS = 1600;

export function smsBody(message: Pick<Message, 'msg' | 'title' | 'link' | 'sms'>): string {
  const text = message.sms?.text ?? (message.title ? `${message.title}: ${message.msg}` : message.msg);
  const suffix = message.link && !text.includes(message.link) ? `\n${message.link}` : '';
  return truncate(text, Math.max(1, SMS_MAX_CHARS - [...suffix].length)) + suffix;
}

/** Cuts `text` to at most `max` characters (code points, so no surrogate pair is split). */
function truncate(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}
