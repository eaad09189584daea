/**
 * The outbox folder: each email is one RFC 5322 `.eml` file named `<messageId>.<uid>.eml`
 * (both parts percent-encoded, so no name can leave the folder). A file appears whole or not at
 * all: it is written and flushed under a hidden temporary name, then renamed into place, so a
 * redelivery replaces the earlier file instead of adding a second one.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';

const encode = (part: string): string => encodeURIComponent(part).replace(/[!'()*~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export function outboxFileName(messageId: string, uid: string): string {
  return `${encode(messageId)}.${encode(uid)}.eml`;
}

export interface Outbox {
  readonly dir: string;
  /** Writes `content` as `name` atomically; resolves with the file's path once it is durable. */
  write(name: string, content: Buffer): Promise<string>;
}

export function createOutbox(dir: string): Outbox {
  mkdirSync(dir, { recursive: true });
  return {
    dir,
    async write(name, content) {
      const target = join(dir, name);
      const tmp = join(dir, `.tmp-${randomUUID()}`);
      try {
        const file = await open(tmp, 'wx', 0o640);
        try {
          await file.writeFile(content);
          await file.datasync();
        } finally {
          await file.close();
        }
        await rename(tmp, target);
      } catch (err) {
        await unlink(tmp).catch(() => undefined);
        throw err;
      }
      return target;
    },
  };
}
