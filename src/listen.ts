/**
 * Listening on HERALD_PORT, exclusively, across a crash.
 *
 * The listen is exclusive, so a second process on the same port fails at once instead of
 * sharing its traffic (exit 2). But a port can also be refused with nobody listening on it:
 * after `kill -9`, the kernel closes the dead process's connections from its side, which leaves
 * them in TIME_WAIT for a minute; uWebSockets.js's listen socket is not SO_REUSEADDR, so those
 * sockets are not either, and Linux refuses to bind the port to anyone (SO_REUSEADDR or not)
 * until they are gone. A supervisor restarting Herald at once would see it exit 2 for a minute.
 *
 * So when the listen fails, the kernel's socket table (/proc/net/tcp, /proc/net/tcp6) says why:
 * a socket LISTENing on the port is another process (fail now); only sockets of closed
 * connections (FIN_WAIT, TIME_WAIT, CLOSING, LAST_ACK…) mean lingering ones, and the listen is
 * tried again every 500 ms until they are gone or `waitMs` has passed. Elsewhere than Linux, or
 * with neither, it fails at once.
 */
import fs from 'node:fs';

/** TCP states in /proc/net/tcp: 0A is LISTEN; 01 ESTABLISHED; the rest are connections closing or closed. */
const LISTEN = '0A';
const ESTABLISHED = '01';

export type PortHolders = 'listener' | 'lingering' | 'none';

/** Who holds local TCP `port`, from the kernel's tables (Linux); 'none' when they cannot be read. */
export function portHolders(port: number, files: readonly string[] = ['/proc/net/tcp', '/proc/net/tcp6']): PortHolders {
  const suffix = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let lingering = false;
  for (const file of files) {
    let table: string;
    try {
      table = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of table.split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (!local?.endsWith(suffix)) continue;
      if (state === LISTEN) return 'listener';
      if (state !== ESTABLISHED) lingering = true;
    }
  }
  return lingering ? 'lingering' : 'none';
}

export interface ListenOptions<S> {
  /** Tries to listen once; resolves with the listen socket, or false when the port was refused. */
  tryListen: () => Promise<S | false>;
  port: number;
  /** How long to wait for lingering sockets of a previous process. */
  waitMs: number;
  /** Told once when it starts waiting. */
  onWait: (holders: PortHolders) => void;
  holders?: (port: number) => PortHolders;
}

/** The listen socket, or false when the port stays refused (in use, not allowed, or lingering past `waitMs`). */
export async function listenWhenFree<S>(options: ListenOptions<S>): Promise<S | false> {
  const holders = options.holders ?? portHolders;
  const deadline = Date.now() + options.waitMs;
  let waiting = false;
  for (;;) {
    const socket = await options.tryListen();
    if (socket !== false) return socket;
    if (options.port === 0 || Date.now() >= deadline) return false;
    const held = holders(options.port);
    if (held !== 'lingering') return false;
    if (!waiting) {
      waiting = true;
      options.onWait(held);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
