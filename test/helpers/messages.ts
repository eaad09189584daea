/** A message as a channel receives it, for channel unit tests; fields can be overridden. */
import { randomUUID } from 'node:crypto';
import type { Message } from '../../src/exchange/types.js';

export const channelTestMessage = (overrides: Partial<Message> = {}): Message => ({
  id: randomUUID(),
  sender: 'admin',
  target: { kind: 'user', uid: 'u1' },
  msg: 'Your order has shipped.',
  urgency: 'normal',
  createdAt: Date.parse('2025-01-02T03:04:05Z'),
  ...overrides,
});
