/**
 * Load-generator worker for the fan-out and memory benchmarks: holds a share of the N sockets
 * (raw minimal WebSocket clients, bench/lib/raw-ws.ts) in its own process and reports over IPC.
 *
 * Protocol (parent → worker → parent):
 *   connect {kind, url, count, firstIndex, concurrency} → connected {count, failed, ms}
 *   clock {id}                                          → clock {id, t}       (clock alignment)
 *   arm {marker}                                        → armed               (count frames holding marker)
 *   fire {path, body, token?}                           → fired {t0, tAnswered, status}
 *   (all own sockets got the marker)                    → received {arrivals[], closed}
 *   collect                                             → received (partial, after a timeout)
 *   close                                               → exits
 * Times are this process's `performance.timeOrigin + performance.now()` (ms since the epoch,
 * sub-ms resolution); the parent corrects them by the measured clock offset.
 *
 * Herald: one user per socket (uid `fan<index>`): mint the user's API token, POST
 * /api/v1/ws/token for a ticket, open /ws?token=…  Socket.IO: EIO=4 websocket handshake,
 * "40" namespace connect, "3" answers to pings, events arrive as "42[...]". Bare uWS (the
 * fan-out ceiling, bench/reference/bare-uws.ts): plain /ws, no ticket.
 */
import { performance } from 'node:perf_hooks';
import { mintToken } from '../../src/auth/tokens.js';
import { bounded, HttpPool } from '../lib/http.js';
import { BENCH_SECRET } from '../lib/proc.js';
import { openRawSocket, type RawSocket } from '../lib/raw-ws.js';

type Command =
  | { type: 'connect'; kind: 'herald' | 'socketio' | 'uws'; url: string; count: number; firstIndex: number; concurrency: number }
  | { type: 'clock'; id: number }
  | { type: 'arm'; marker: string }
  | { type: 'fire'; path: string; body: string; token?: string }
  | { type: 'collect' }
  | { type: 'close' };

const now = () => performance.timeOrigin + performance.now();
const send = (message: object) => process.send?.(message);

const sockets: RawSocket[] = [];
let got = new Uint8Array(0);
let arrivals: number[] = [];
let marker: Buffer | undefined;
let closed = 0;
let reported = true;
let http: HttpPool | undefined;
let target = '';
/** The connection the broadcast POST goes out on, opened at `arm` so `fire` does not pay for a TCP handshake. */
let firePool: HttpPool | undefined;

function onText(index: number, payload: Buffer) {
  if (marker === undefined || got[index] === 1) return;
  if (payload.indexOf(marker) < 0) return;
  got[index] = 1;
  arrivals.push(now());
  if (arrivals.length === sockets.length) report();
}

function report() {
  if (reported) return;
  reported = true;
  send({ type: 'received', arrivals, closed, expected: sockets.length });
}

async function connectHerald(url: string, slot: number, index: number): Promise<RawSocket> {
  const pool = http as HttpPool;
  const token = await mintToken(BENCH_SECRET, { sub: `fan${index}`, ttlSeconds: 3600 });
  const answer = await pool.request('POST', '/api/v1/ws/token', { authorization: `Bearer ${token}` });
  if (answer.status !== 200) throw new Error(`ticket: ${answer.status} ${answer.body}`);
  const ticket = (JSON.parse(answer.body) as { token: string }).token;
  return openRawSocket(`${url.replace('http:', 'ws:')}/ws?token=${ticket}`, {
    onText: (payload) => onText(slot, payload),
    onClose: () => {
      closed += 1;
    },
  });
}

function connectBareUws(url: string, slot: number): Promise<RawSocket> {
  return openRawSocket(`${url.replace('http:', 'ws:')}/ws`, {
    onText: (payload) => onText(slot, payload),
    onClose: () => {
      closed += 1;
    },
  });
}

function connectSocketIo(url: string, slot: number): Promise<RawSocket> {
  return new Promise((resolve, reject) => {
    let ready = false;
    openRawSocket(`${url.replace('http:', 'ws:')}/socket.io/?EIO=4&transport=websocket`, {
      onText(payload, ws) {
        const first = payload[0];
        if (first === 0x34 /* 4 */ && payload[1] === 0x32 /* 2: event */) return onText(slot, payload);
        if (first === 0x32 /* 2: ping */) return ws.sendText('3');
        if (first === 0x30 /* 0: engine open */) return ws.sendText('40');
        if (first === 0x34 && payload[1] === 0x30 /* 40: namespace connected */ && !ready) {
          ready = true;
          resolve(ws);
        }
      },
      onClose: () => {
        closed += 1;
        if (!ready) reject(new Error('closed before namespace connect'));
      },
    }).catch(reject);
  });
}

process.on('message', (command: Command) => {
  switch (command.type) {
    case 'connect': {
      const started = now();
      let failed = 0;
      let lastError = '';
      http = new HttpPool(command.url, command.concurrency);
      got = new Uint8Array(command.count);
      target = command.url;
      // Slot i (0..count-1) is this worker's own index of a socket, for the `got` flags.
      void bounded(command.count, command.concurrency, async (i) => {
        try {
          const ws =
            command.kind === 'herald'
              ? await connectHerald(command.url, i, command.firstIndex + i)
              : command.kind === 'socketio'
                ? await connectSocketIo(command.url, i)
                : await connectBareUws(command.url, i);
          sockets.push(ws);
        } catch (error) {
          failed += 1;
          lastError = (error as Error).message;
        }
      }).then(() => {
        http?.close();
        send({ type: 'connected', count: sockets.length, failed, lastError, ms: now() - started });
      });
      return;
    }
    case 'clock':
      send({ type: 'clock', id: command.id, t: now() });
      return;
    case 'arm':
      marker = Buffer.from(command.marker);
      got.fill(0);
      arrivals = [];
      reported = false;
      firePool?.close();
      firePool = new HttpPool(target, 1);
      // Opens (and warms) the connection; any answer will do.
      firePool.request('GET', '/api/v1/ping').then(
        () => send({ type: 'armed' }),
        () => send({ type: 'armed' }),
      );
      return;
    case 'fire': {
      const pool = firePool ?? new HttpPool(target, 1);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (command.token) headers.authorization = `Bearer ${command.token}`;
      const t0 = now();
      pool.request('POST', command.path, headers, command.body).then(
        (answer) => {
          send({ type: 'fired', t0, tAnswered: now(), status: answer.status, body: answer.body });
        },
        (error: Error) => send({ type: 'fired', t0, tAnswered: now(), status: 0, body: error.message }),
      );
      return;
    }
    case 'collect':
      report();
      return;
    case 'close':
      for (const ws of sockets) ws.socket.destroy();
      process.exit(0);
  }
});
send({ type: 'ready' });
