/**
 * Stalled HTTP/2 sessions for the TLS fakes (test/fakes/fcm.ts, test/fakes/apns.ts): wraps a
 * node:http2 secure server's connection handling so that each TLS connection that chose h2 gets a
 * number (1-based) and, when `stall(n)` says so, is held after the handshake — read and never
 * answered, not even SETTINGS or PING — instead of being served: what a black-holed connection
 * or a wedged frontend looks like to a client. Other connections (HTTP/1.1 with allowHTTP1) are
 * served as usual. `destroy()` ends the held sockets (the fake's close).
 */
import type http2 from 'node:http2';
import type { TLSSocket } from 'node:tls';

export interface StallControl {
  /** TLS connections that chose h2 so far, stalled ones included. */
  readonly sessions: number;
  /** Sessions held by `stall`. */
  readonly stalled: number;
  /** Which sessions (by number) to hold; undefined: none. */
  stall: ((n: number) => boolean) | undefined;
  destroy(): void;
}

export function stallableSessions(server: http2.Http2SecureServer): StallControl {
  const [serve] = server.listeners('secureConnection') as Array<(socket: TLSSocket) => void>;
  if (!serve) throw new Error('h2-stall: node:http2 has no secureConnection listener to wrap');
  server.removeAllListeners('secureConnection');
  const held = new Set<TLSSocket>();
  let sessions = 0;
  let stalled = 0;
  const control: StallControl = {
    get sessions() {
      return sessions;
    },
    get stalled() {
      return stalled;
    },
    stall: undefined,
    destroy() {
      for (const socket of held) socket.destroy();
    },
  };
  server.on('secureConnection', (socket: TLSSocket) => {
    if (socket.alpnProtocol === 'h2') {
      sessions++;
      if (control.stall?.(sessions)) {
        stalled++;
        held.add(socket);
        socket.on('error', () => {});
        socket.on('close', () => held.delete(socket));
        socket.resume();
        return;
      }
    }
    serve.call(server, socket);
  });
  return control;
}
