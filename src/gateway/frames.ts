/** Client → server frames of the realtime protocol (API.md), validated. */
import { z } from 'zod';
import { LIMITS } from '../exchange/limits.js';

const ids = z.array(z.uuid()).min(1).max(LIMITS.idsPerReceipt);

export const clientFrame = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ack'), ids }),
  z.object({ type: z.literal('read'), ids }),
  z.object({ type: z.literal('ping') }),
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
