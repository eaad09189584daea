/**
 * The frames of the realtime protocol (docs/api.md, "WebSocket"): client → server frames are
 * validated with `clientFrame`; `serverFrame` describes what the server sends, for the document
 * (src/gateway/ws-endpoint.ts).
 */
import { z } from 'zod';
import { LIMITS } from '../exchange/limits.js';
import { URGENCIES } from '../exchange/types.js';

const ids = z.array(z.uuid()).min(1).max(LIMITS.idsPerReceipt).describe(`Message ids, 1 to ${LIMITS.idsPerReceipt}`);

export const clientFrame = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ack'), ids }).describe('The messages reached the client: their realtime receipts become delivered'),
  z.object({ type: z.literal('read'), ids }).describe('The user read the messages: their realtime receipts become read'),
  z.object({ type: z.literal('ping') }).describe('A check-in: answered with pong, refreshes presence'),
]);

/** What the server sends (src/exchange/message.ts messageFrame, PONG and errorFrame below). */
export const serverFrame = z.discriminatedUnion('type', [
  z
    .strictObject({
      type: z.literal('message'),
      id: z.string(),
      msg: z.string(),
      title: z.string().nullable(),
      data: z.record(z.string(), z.unknown()).nullable(),
      urgency: z.enum(URGENCIES),
      link: z.string().nullable(),
      createdAt: z.string().describe('ISO 8601'),
      sender: z.string().optional().describe('The sending uid; only when a non-admin token sent the message'),
      topic: z.string().optional().describe("The message's opts.topic: a newer message of a topic replaces the older in the inbox"),
      replaces: z
        .string()
        .optional()
        .describe('The id of the older message of the same topic this one replaced in the inbox (absent on broadcast frames: the client replaces by topic)'),
    })
    .describe('A message for the user (also each unread one replayed after since=)'),
  z
    .strictObject({ type: z.literal('read'), ids: z.array(z.string()) })
    .describe('The messages were read or clicked on another socket, device or channel of the user (src/pipeline/withdraw.ts)'),
  z
    .strictObject({ type: z.literal('recall'), id: z.string() })
    .describe('The message was recalled by its sender or an admin: it left the inbox (src/pipeline/recall.ts)'),
  z.strictObject({ type: z.literal('pong') }).describe('The answer to a ping frame'),
  z
    .strictObject({ type: z.literal('error'), code: z.literal('HERALD_INVALID_FRAME'), detail: z.string() })
    .describe('A client frame that is not valid; the socket stays open'),
]);

export type ClientFrame = z.output<typeof clientFrame>;

export type ParsedFrame = { ok: true; frame: ClientFrame } | { ok: false; detail: string };

export function parseClientFrame(text: string): ParsedFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, detail: 'frame is not valid JSON' };
  }
  const parsed = clientFrame.safeParse(value);
  if (parsed.success) return { ok: true, frame: parsed.data };
  return { ok: false, detail: parsed.error.issues.map((i) => `${i.path.join('.') || 'frame'}: ${i.message}`).join('; ') };
}

export const errorFrame = (code: string, detail: string) => JSON.stringify({ type: 'error', code, detail });
export const PONG = JSON.stringify({ type: 'pong' });
