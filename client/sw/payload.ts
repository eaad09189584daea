/**
 * The two payloads Herald's web push channel sends (channels/webpush/request.ts; docs/api.md,
 * "Web push payloads"), read defensively: anything else is not Herald's and is left alone.
 */

/** A message to show: the realtime frame's fields plus the notification tag and the capabilities. */
export interface MessagePush {
  type: 'message';
  id: string;
  title: string | null;
  body: string;
  data: Record<string, unknown> | null;
  link: string | null;
  tag: string;
  /** Receipt capability: reports this message's receipts of this device. */
  receipt: string | null;
  /** Renewal capability: replaces this device's subscription when the browser rotates it. */
  renew: string | null;
}

/** A withdrawal: the message was read on another device, or recalled. */
export interface ClosePush {
  type: 'close';
  id: string;
  tag: string;
  reason: string;
}

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);

export function parsePush(raw: unknown): MessagePush | ClosePush | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const p = raw as Record<string, unknown>;
  const id = text(p.id);
  if (id === null) return undefined;
  const tag = text(p.tag) ?? id;
  if (p.type === 'close') return { type: 'close', id, tag, reason: text(p.reason) ?? 'read' };
  if (p.type !== undefined) return undefined;
  const body = text(p.body);
  if (body === null) return undefined;
  const data = typeof p.data === 'object' && p.data !== null && !Array.isArray(p.data) ? (p.data as Record<string, unknown>) : null;
  return { type: 'message', id, title: text(p.title), body, data, link: httpLink(p.link), tag, receipt: text(p.receipt), renew: text(p.renew) };
}

/** A link the worker may open: an absolute http(s) URL, else none. */
export function httpLink(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}
