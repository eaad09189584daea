/**
 * A minimal keep-alive HTTP/1.1 client for load generation: a pool of plain TCP connections,
 * one request in flight per connection, requests written as one pre-formatted string and
 * responses framed by Content-Length (or small chunked ones). Much cheaper per request than node:http or fetch, so the
 * load generator steals less of the machine's two cores from the server under test.
 * (Only what the servers here answer: no chunked responses, no redirects.)
 */
import net from 'node:net';

export interface HttpResult {
  status: number;
  body: string;
}

interface Pending {
  text: string;
  resolve(result: HttpResult): void;
  reject(error: Error): void;
}

class Connection {
  private socket: net.Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private current: Pending | undefined;
  closed = false;

  constructor(
    host: string,
    port: number,
    private readonly onIdle: (c: Connection) => void,
    private readonly onClose: (c: Connection) => void,
  ) {
    this.socket = net.connect({ host, port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    const fail = (error?: Error) => {
      if (this.closed) return;
      this.closed = true;
      this.current?.reject(error ?? new Error('connection closed'));
      this.current = undefined;
      this.onClose(this);
    };
    this.socket.on('error', fail);
    this.socket.on('close', () => fail());
  }

  get busy() {
    return this.current !== undefined;
  }

  send(pending: Pending) {
    this.current = pending;
    this.socket.write(pending.text);
  }

  close() {
    this.closed = true;
    this.socket.destroy();
  }

  private onData(chunk: Buffer) {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = this.buffer.toString('latin1', 0, end);
    const status = Number(head.slice(9, 12));
    let body: string;
    if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      // Small chunked answers only: wait for the last chunk, then join the chunks.
      const last = this.buffer.indexOf('\r\n0\r\n\r\n', end + 2);
      if (last < 0) return;
      body = '';
      let at = end + 4;
      while (at < last + 2) {
        const eol = this.buffer.indexOf('\r\n', at);
        const size = Number.parseInt(this.buffer.toString('latin1', at, eol), 16);
        body += this.buffer.toString('utf8', eol + 2, eol + 2 + size);
        at = eol + 2 + size + 2;
      }
      this.buffer = this.buffer.subarray(last + 7);
    } else {
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? '0');
      if (this.buffer.length < end + 4 + length) return;
      body = this.buffer.toString('utf8', end + 4, end + 4 + length);
      this.buffer = this.buffer.subarray(end + 4 + length);
    }
    const done = this.current;
    this.current = undefined;
    done?.resolve({ status, body });
    this.onIdle(this);
  }
}

export class HttpPool {
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private readonly queue: Pending[] = [];
  private readonly host: string;
  private readonly port: number;

  constructor(
    url: string,
    private readonly maxConnections = 16,
  ) {
    const parsed = new URL(url);
    this.host = parsed.hostname;
    this.port = Number(parsed.port);
  }

  /** Sends one request; the promise resolves with the status and body text. */
  request(method: string, path: string, headers: Record<string, string> = {}, body = ''): Promise<HttpResult> {
    let text = `${method} ${path} HTTP/1.1\r\nhost: ${this.host}:${this.port}\r\n`;
    for (const [name, value] of Object.entries(headers)) text += `${name}: ${value}\r\n`;
    text += `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    return new Promise((resolve, reject) => {
      const pending = { text, resolve, reject };
      const connection = this.idle.pop() ?? (this.all.size < this.maxConnections ? this.open() : undefined);
      if (connection) connection.send(pending);
      else this.queue.push(pending);
    });
  }

  close() {
    for (const c of this.all) c.close();
    this.all.clear();
    this.idle.length = 0;
  }

  private open(): Connection {
    const c = new Connection(
      this.host,
      this.port,
      (conn) => {
        const next = this.queue.shift();
        if (next) conn.send(next);
        else this.idle.push(conn);
      },
      (conn) => {
        this.all.delete(conn);
        const at = this.idle.indexOf(conn);
        if (at >= 0) this.idle.splice(at, 1);
        const next = this.queue.shift();
        if (next) this.open().send(next);
      },
    );
    this.all.add(c);
    return c;
  }
}

/** Runs `task(i)` for i in 0..count-1 with at most `limit` in flight. */
export async function bounded(count: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, lane));
}
