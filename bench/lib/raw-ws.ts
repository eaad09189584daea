/**
 * A minimal WebSocket client (RFC 6455) for holding thousands of sockets in one load-generator
 * process: a plain TCP socket, a hand-written upgrade request, unmasked server frames parsed in
 * place, masked client frames, automatic pong. No extensions, no fragmentation (the servers
 * under test send small unfragmented text frames). The same client is used against Herald and
 * against the Socket.IO reference, so client-side cost is identical on both sides of a ratio.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';

export interface RawSocket {
  /** Sends a masked text frame. */
  sendText(text: string): void;
  close(): void;
  readonly socket: net.Socket;
}

export interface RawSocketHandlers {
  /** A text frame arrived (payload bytes; do not keep the buffer). */
  onText(payload: Buffer, ws: RawSocket): void;
  onClose?(): void;
}

const MASK = Buffer.from([0x12, 0x34, 0x56, 0x78]);

function frame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const headerLen = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(headerLen + 4 + len);
  out[0] = 0x80 | opcode;
  if (len < 126) out[1] = 0x80 | len;
  else if (len < 65536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(len, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeBigUInt64BE(BigInt(len), 2);
  }
  MASK.copy(out, headerLen);
  for (let i = 0; i < len; i++) out[headerLen + 4 + i] = (payload[i] as number) ^ (MASK[i & 3] as number);
  return out;
}

/**
 * One receive buffer shared by every socket of the process: `onread` hands each read to us
 * synchronously (no stream machinery, no Buffer per read), and we copy out only the tail of a
 * frame split across reads. This keeps the per-frame cost of the load generator low.
 */
const SHARED = Buffer.allocUnsafe(64 * 1024);

/** Opens a socket to ws://host:port/path; resolves once the server answered 101. */
export function openRawSocket(url: string, handlers: RawSocketHandlers, timeoutMs = 30_000): Promise<RawSocket> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    let pending: Buffer | undefined;
    let open = false;
    let done = false;
    const onBytes = (bytes: Buffer) => {
      let buffer = pending === undefined ? bytes : Buffer.concat([pending, bytes]);
      pending = undefined;
      if (!open) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) {
          pending = Buffer.from(buffer);
          return;
        }
        const status = buffer.toString('latin1', 9, 12);
        if (status !== '101') return fail(new Error(`upgrade refused: ${buffer.toString('latin1', 0, Math.min(end, 200))}`));
        open = true;
        done = true;
        clearTimeout(timer);
        resolve(ws);
        buffer = buffer.subarray(end + 4);
      }
      let offset = 0;
      while (buffer.length - offset >= 2) {
        const b0 = buffer[offset] as number;
        let len = (buffer[offset + 1] as number) & 0x7f;
        let header = 2;
        if (len === 126) {
          if (buffer.length - offset < 4) break;
          len = buffer.readUInt16BE(offset + 2);
          header = 4;
        } else if (len === 127) {
          if (buffer.length - offset < 10) break;
          len = Number(buffer.readBigUInt64BE(offset + 2));
          header = 10;
        }
        if (buffer.length - offset < header + len) break;
        const payload = buffer.subarray(offset + header, offset + header + len);
        offset += header + len;
        const opcode = b0 & 0x0f;
        if (opcode === 0x1) handlers.onText(payload, ws);
        else if (opcode === 0x9) socket.write(frame(0xa, Buffer.from(payload)));
        else if (opcode === 0x8) socket.end();
      }
      // The shared buffer is reused by the next read: keep a copy of an incomplete frame.
      if (offset < buffer.length) pending = Buffer.from(buffer.subarray(offset));
    };
    const socket = net.connect({
      host: target.hostname,
      port: Number(target.port),
      noDelay: true,
      onread: {
        buffer: SHARED,
        callback: (nread: number, buf: Uint8Array) => {
          onBytes((buf as Buffer).subarray(0, nread));
          return true;
        },
      },
    });
    const timer = setTimeout(() => fail(new Error('upgrade timed out')), timeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      if (!done) {
        done = true;
        socket.destroy();
        reject(error);
      }
    };
    const ws: RawSocket = {
      socket,
      sendText: (text) => socket.write(frame(0x1, Buffer.from(text))),
      close: () => socket.end(frame(0x8, Buffer.from([0x03, 0xe8]))),
    };
    socket.once('connect', () => {
      socket.write(
        `GET ${target.pathname}${target.search} HTTP/1.1\r\nhost: ${target.host}\r\nupgrade: websocket\r\nconnection: Upgrade\r\n` +
          `sec-websocket-key: ${randomBytes(16).toString('base64')}\r\nsec-websocket-version: 13\r\n\r\n`,
      );
    });
    socket.on('error', (error) => fail(error));
    socket.on('close', () => {
      if (!open) fail(new Error('closed before upgrade'));
      else handlers.onClose?.();
    });
  });
}
