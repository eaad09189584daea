/**
 * A desktop notification server for the browser tests: a private D-Bus session bus
 * (`dbus-daemon`, on a socket in a temporary directory) and, on it, the freedesktop.org
 * Notifications service (`org.freedesktop.Notifications`, spec 1.2) — what a Linux desktop runs
 * and Chromium talks to when it finds it on its session bus (DBUS_SESSION_BUS_ADDRESS).
 *
 * Why the tests need one: without it, Chromium on Linux keeps a notification in its own message
 * center only as long as the notification's popup lives, and in a headless browser that popup is
 * sometimes dismissed at once, so `registration.getNotifications()` misses notifications a worker
 * has just shown (about 1 run in 10). A notification server keeps each notification until it is
 * closed, as a desktop does: Chromium's bridge then answers getNotifications() from what this
 * server holds.
 *
 * `Notify` records the notification and answers its id (or replaces `replaces_id`);
 * `CloseNotification` forgets it and emits `NotificationClosed` (reason 3, closed by a call);
 * `shown()` lists what is on display now.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** What this fake uses of @homebridge/dbus-native (its typings do not cover serving). */
interface DbusNative {
  sessionBus(options: { busAddress: string }): MessageBus;
}
interface MessageBus {
  connection: { end(): void };
  exportInterface(implementation: object, objectPath: string, description: InterfaceDescription): void;
  requestName(name: string, flags: number, callback: (error: unknown, reply: number) => void): void;
}
/** Methods: [in signature, out signature, in names, out names]; signals: [signature, ...names]. */
interface InterfaceDescription {
  name: string;
  methods: Record<string, [string, string, string[], string[]]>;
  signals: Record<string, string[]>;
}
const dbus = createRequire(import.meta.url)('@homebridge/dbus-native') as DbusNative;

const SERVICE = 'org.freedesktop.Notifications';
const OBJECT_PATH = '/org/freedesktop/Notifications';
/** RequestName: fail rather than queue behind another owner; answer 1 = now the primary owner. */
const DO_NOT_QUEUE = 4;
const PRIMARY_OWNER = 1;
/** NotificationClosed reasons (the spec's): 3 = closed by a call to CloseNotification. */
const CLOSED_BY_CALL = 3;

const DESCRIPTION: InterfaceDescription = {
  name: SERVICE,
  methods: {
    GetCapabilities: ['', 'as', [], ['capabilities']],
    GetServerInformation: ['', 'ssss', [], ['name', 'vendor', 'version', 'spec_version']],
    Notify: ['susssasa{sv}i', 'u', ['app_name', 'replaces_id', 'app_icon', 'summary', 'body', 'actions', 'hints', 'expire_timeout'], ['id']],
    CloseNotification: ['u', '', ['id'], []],
  },
  signals: { NotificationClosed: ['uu', 'id', 'reason'] },
};

export interface DesktopNotification {
  id: number;
  appName: string;
  summary: string;
  body: string;
}

export interface NotificationServer {
  /** For the browser's environment: DBUS_SESSION_BUS_ADDRESS. */
  busAddress: string;
  /** What is on display now, oldest first. */
  shown(): DesktopNotification[];
  close(): Promise<void>;
}

/** The service's methods; `emit` also sends the signal on the bus (exportInterface wraps it). */
class Notifications extends EventEmitter {
  readonly displayed = new Map<number, DesktopNotification>();
  private lastId = 0;

  GetCapabilities(): string[] {
    return ['body', 'actions'];
  }

  GetServerInformation(): string[] {
    return ['herald-test-notifications', 'herald', '1.0', '1.2'];
  }

  Notify(appName: string, replacesId: number, _icon: string, summary: string, body: string): number {
    const id = replacesId !== 0 && this.displayed.has(replacesId) ? replacesId : ++this.lastId;
    this.displayed.set(id, { id, appName, summary, body });
    return id;
  }

  CloseNotification(id: number): void {
    if (this.displayed.delete(id)) this.emit('NotificationClosed', id, CLOSED_BY_CALL);
  }
}

/** Waits for dbus-daemon to print the address it listens on. */
function addressOf(daemon: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    daemon.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const newline = out.indexOf('\n');
      if (newline > 0) resolve(out.slice(0, newline).trim());
    });
    daemon.once('error', reject);
    daemon.once('exit', (code) => reject(new Error(`dbus-daemon exited (${code}) before it listened`)));
  });
}

export async function startNotificationServer(): Promise<NotificationServer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'herald-dbus-'));
  const daemon = spawn('dbus-daemon', ['--session', `--address=unix:path=${path.join(dir, 'bus')}`, '--nofork', '--nopidfile', '--print-address'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const stop = async () => {
    if (daemon.exitCode === null && daemon.signalCode === null) {
      const exited = new Promise((resolve) => daemon.once('exit', resolve));
      daemon.kill();
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const busAddress = await addressOf(daemon);
    const bus = dbus.sessionBus({ busAddress });
    const service = new Notifications();
    bus.exportInterface(service, OBJECT_PATH, DESCRIPTION);
    const reply = await new Promise<number>((resolve, reject) =>
      bus.requestName(SERVICE, DO_NOT_QUEUE, (error, answer) => (error ? reject(error) : resolve(answer))),
    );
    if (reply !== PRIMARY_OWNER) throw new Error(`could not own ${SERVICE} on the test bus (reply ${reply})`);
    return {
      busAddress,
      shown: () => [...service.displayed.values()],
      async close() {
        bus.connection.end();
        await stop();
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
