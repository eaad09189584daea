// A driver-free CQL smoke check for the Cassandra that up.sh started: speaks native protocol
// v4 over a plain TCP socket (node:net), so it needs no cassandra-driver and no cqlsh.
// STARTUP, then: release_version, create keyspace + table, insert, select, drop keyspace.
//   node scripts/services/cql-smoke.mjs [host] [port]
import net from 'node:net';

const host = process.argv[2] ?? '127.0.0.1';
const port = Number(process.argv[3] ?? 9042);
const OP = { ERROR: 0x00, STARTUP: 0x01, READY: 0x02, QUERY: 0x07, RESULT: 0x08 };

const socket = net.connect({ host, port });
socket.setTimeout(30_000, () => fail(new Error('timeout waiting for Cassandra')));
let buffered = Buffer.alloc(0);
let pending = null;
socket.on('data', (chunk) => {
  buffered = Buffer.concat([buffered, chunk]);
  while (buffered.length >= 9) {
    const length = buffered.readInt32BE(5);
    if (buffered.length < 9 + length) break;
    const frame = { opcode: buffered[4], body: buffered.subarray(9, 9 + length) };
    buffered = buffered.subarray(9 + length);
    const p = pending;
    pending = null;
    p?.(frame);
  }
});
socket.on('error', fail);

function fail(err) {
  console.error(`cql-smoke: FAILED: ${err.message}`);
  process.exit(1);
}

function send(opcode, body) {
  const header = Buffer.alloc(9);
  header[0] = 0x04; // protocol v4, request
  header.writeInt16BE(0, 2); // stream 0: one request at a time
  header[4] = opcode;
  header.writeInt32BE(body.length, 5);
  return new Promise((resolve) => {
    pending = resolve;
    socket.write(Buffer.concat([header, body]));
  });
}

const str = (s) => {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
};
const longStr = (s) => {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(4);
  len.writeInt32BE(b.length);
  return Buffer.concat([len, b]);
};

class Reader {
  constructor(buf) {
    this.buf = buf;
    this.pos = 0;
  }
  int() {
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  short() {
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  string() {
    const n = this.short();
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  bytes() {
    const n = this.int();
    if (n < 0) return null;
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  option() {
    const id = this.short();
    if (id === 0x0000)
      this.string(); // custom type: class name
    else if (id === 0x0020 || id === 0x0022)
      this.option(); // list, set
    else if (id === 0x0021) {
      this.option();
      this.option();
    } // map
    else if (id >= 0x0030) throw new Error(`unsupported column type 0x${id.toString(16)}`);
    return id;
  }
}

function checkError(frame, what) {
  if (frame.opcode === OP.ERROR) {
    const r = new Reader(frame.body);
    const code = r.int();
    throw new Error(`${what}: error 0x${code.toString(16)}: ${r.string()}`);
  }
}

// Returns rows as arrays of UTF-8 strings (enough for text columns), or the result kind.
async function query(cql) {
  const body = Buffer.concat([longStr(cql), Buffer.from([0x00, 0x01]) /* consistency ONE */, Buffer.from([0x00]) /* flags */]);
  const frame = await send(OP.QUERY, body);
  checkError(frame, cql);
  if (frame.opcode !== OP.RESULT) throw new Error(`${cql}: unexpected opcode ${frame.opcode}`);
  const r = new Reader(frame.body);
  const kind = r.int();
  if (kind !== 0x0002) return { kind };
  const flags = r.int();
  const columns = r.int();
  if (flags & 0x0002) r.bytes(); // paging state
  if (!(flags & 0x0004)) {
    const global = flags & 0x0001;
    if (global) {
      r.string();
      r.string();
    }
    for (let i = 0; i < columns; i++) {
      if (!global) {
        r.string();
        r.string();
      }
      r.string();
      r.option();
    }
  }
  const rows = [];
  for (let n = r.int(); n > 0; n--) {
    const row = [];
    for (let i = 0; i < columns; i++) row.push(r.bytes()?.toString('utf8') ?? null);
    rows.push(row);
  }
  return { kind, rows };
}

try {
  const startup = Buffer.concat([Buffer.from([0x00, 0x01]), str('CQL_VERSION'), str('3.0.0')]);
  const ready = await send(OP.STARTUP, startup);
  checkError(ready, 'STARTUP');
  if (ready.opcode !== OP.READY) throw new Error(`STARTUP: expected READY, got opcode ${ready.opcode}`);

  const version = await query('SELECT release_version FROM system.local');
  console.log(`cql-smoke: connected to ${host}:${port}, Cassandra ${version.rows[0][0]}`);
  const ks = `herald_smoke_${process.pid}`;
  await query(`CREATE KEYSPACE ${ks} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
  await query(`CREATE TABLE ${ks}.t (id text PRIMARY KEY, v text)`);
  await query(`INSERT INTO ${ks}.t (id, v) VALUES ('a', 'hello herald')`);
  const got = await query(`SELECT v FROM ${ks}.t WHERE id = 'a'`);
  await query(`DROP KEYSPACE ${ks}`);
  if (got.rows?.[0]?.[0] !== 'hello herald') throw new Error(`read back ${JSON.stringify(got.rows)}`);
  console.log(`cql-smoke: OK (create keyspace/table, insert, select '${got.rows[0][0]}', drop)`);
  // Done: close without waiting for the server's side (it may answer the close with a RST).
  socket.removeAllListeners('error');
  socket.destroy();
  process.exit(0);
} catch (err) {
  fail(err);
}
