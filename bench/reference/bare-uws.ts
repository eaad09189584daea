/**
 * Reference for the ingest benchmark: the thinnest possible server on the same library Herald
 * uses (uWebSockets.js). It answers POST /api/v1/send with 202 and a fixed small JSON body
 * after reading the whole request body — no auth, no validation, no storage. Herald's figure
 * divided by this one is the share of raw uWS throughput Herald keeps.
 *
 * It also serves as the fan-out ceiling (see fanout.ts): /ws sockets on one topic, and
 * POST /api/v1/broadcast → one `app.publish`.
 */
import uWS from 'uWebSockets.js';
import { randomUUID } from 'node:crypto';

const host = process.env.REF_HOST ?? '127.0.0.1';
const port = Number(process.env.REF_PORT ?? '0');
const ACCEPTED = '{"id":"0190a0b0-0000-7000-8000-000000000000"}';

const app = uWS.App();
app.post('/api/v1/send', (res) => {
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  res.onData((_chunk, isLast) => {
    if (!isLast || aborted) return;
    res.cork(() => {
      res.writeStatus('202 Accepted').writeHeader('content-type', 'application/json').end(ACCEPTED);
    });
  });
});
// Fan-out ceiling: every socket on /ws subscribes to one topic; POST /api/v1/broadcast
// publishes a Herald-shaped frame to it with one uWS publish — what Herald's gateway does,
// without anything around it.
app.ws('/ws', {
  compression: uWS.DISABLED,
  maxPayloadLength: 16 * 1024,
  idleTimeout: 120,
  open(ws) {
    ws.subscribe('broadcast');
  },
});
app.post('/api/v1/broadcast', (res) => {
  let aborted = false;
  const chunks: Buffer[] = [];
  res.onAborted(() => {
    aborted = true;
  });
  res.onData((chunk, isLast) => {
    chunks.push(Buffer.from(chunk.slice(0)));
    if (!isLast || aborted) return;
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { msg: string; opts?: { data?: unknown } };
    const id = randomUUID();
    const frame = {
      type: 'message',
      id,
      msg: body.msg,
      title: null,
      data: body.opts?.data ?? null,
      urgency: 'normal',
      link: null,
      createdAt: new Date().toISOString(),
    };
    app.publish('broadcast', JSON.stringify(frame), false);
    res.cork(() => {
      res.writeStatus('202 Accepted').writeHeader('content-type', 'application/json').end(JSON.stringify({ id }));
    });
  });
});
app.get('/api/v1/ping', (res) => {
  res.end('{"pong":true}');
});
app.any('/*', (res) => {
  res.writeStatus('404 Not Found').end();
});
app.listen(host, port, (socket) => {
  if (!socket) {
    process.stderr.write(`bare-uws: cannot listen on ${host}:${port}\n`);
    process.exit(1);
  }
  process.stdout.write(`bare-uws listening on http://${host}:${uWS.us_socket_local_port(socket)}\n`);
});
process.once('SIGTERM', () => process.exit(0));
