/**
 * An https.Agent that connects every request to one `host:port` while keeping the request's own
 * host name for TLS (SNI and certificate check): the FCM channel's token requests to
 * oauth2.googleapis.com go through it to a proxy, a staging endpoint or a loopback fake whose
 * certificate names the real host (the HTTP/2 session to FCM does the same itself:
 * ../http2-session.ts `connectTo`, whose `parseHostPort` reads the `host` setting for both).
 *
 * Node's Agent sets `servername` from the request's host before `createConnection`, so only the
 * socket address is replaced here.
 */
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { HostPort } from '../http2-session.js';

export class HostOverrideAgent extends https.Agent {
  constructor(
    private readonly target: HostPort,
    options: https.AgentOptions = {},
  ) {
    super(options);
  }

  override createConnection(options: https.RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    return super.createConnection({ ...options, host: this.target.host, port: this.target.port }, callback);
  }
}
