/**
 * Reference for the fan-out and memory benchmarks: a plain Socket.IO server (websocket
 * transport only, no per-message compression — its defaults otherwise) with the same
 * broadcast trigger as Herald: POST /api/v1/broadcast {"msg", "opts"} → `io.emit` of a frame
 * shaped like Herald's, then 202. No auth, no storage: only the fan-out itself.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { Server } from 'socket.io';

const host = process.env.REF_HOST ?? '127.0.0.1';
const port = Number(process.env.REF_PORT ?? '0');

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/api/v1/broadcast') {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { msg: string; opts?: { data?: unknown; title?: string } };
      const id = randomUUID();
      io.emit('message', {
        type: 'message',
        id,
        msg: body.msg,
        title: body.opts?.title ?? null,
        data: body.opts?.data ?? null,
        urgency: 'normal',
        link: null,
        createdAt: new Date().toISOString(),
      });
      res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ id }));
    });
    return;
  }
  res.writeHead(404).end();
});
server.keepAliveTimeout = 60_000;

const io = new Server(server, { transports: ['websocket'], serveClient: false, perMessageDeflate: false });
io.on('connection', () => {});

server.listen(port, host, () => {
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  process.stdout.write(`socketio-server listening on http://${host}:${actual}\n`);
});
process.once('SIGTERM', () => process.exit(0));
