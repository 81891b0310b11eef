/**
 * The soak benchmark's dashboard clients, in their own process: `clients` WebSocket connections
 * to `/ws/live`, each subscribed to `cluster` as the dashboard's overview page is, counting
 * what arrives. Per message it reads only the head fields it needs (type, ts, seq, full) by
 * byte search, not a full parse: at 10,000 nodes a cluster message is megabytes and 100 clients
 * parsing it would measure this process, not the collector. To show the messages are real, one
 * message at a time (at most every `validateEveryMs`) is parsed whole and checked against the
 * protocol's LiveMessageSchema. A dropped connection is redialled after `reconnectMs` and
 * subscribes again, as the dashboard does.
 *
 * Driven over IPC by bench/soak.bench.ts (DashConfig, ToDash, FromDash); exits when the parent
 * goes away.
 */
import WebSocket from 'ws';
import { LiveMessageSchema } from '@stroom/protocol';
import { LogHistogram } from './ingest-common.js';
import type { DashConfig, DashReport, FromDash, ToDash } from './soak-common.js';

const cfg = JSON.parse(process.argv[2] ?? '{}') as DashConfig;
const SUBSCRIBE = JSON.stringify({ v: 1, type: 'subscribe', topics: ['cluster'] });

function send(msg: FromDash): void {
  process.send?.(msg);
}

interface Client {
  readonly i: number;
  ws: WebSocket | undefined;
  open: boolean;
  /** seq of the last cluster message, -1 before the first. */
  lastSeq: number;
  /** cluster messages this interval. */
  messages: number;
}

let running = true;
let intervalStart = Date.now();
let lag = new LogHistogram();
let c = { messages: 0, bytes: 0, fulls: 0, missedTicks: 0, errors: 0, validated: 0, invalid: 0, closes: 0, reconnects: 0 };
let firstError: string | undefined;
let firstInvalid: string | undefined;
let firstClose: string | undefined;
let lastValidated = 0;

const KEY_TYPE = Buffer.from('"type":"');
const KEY_TS = Buffer.from('"ts":');
const KEY_SEQ = Buffer.from('"seq":');
const KEY_FULL = Buffer.from('"full":');

/** The integer after `key` (its first occurrence), or undefined. */
function intAfter(buf: Buffer, key: Buffer): number | undefined {
  const at = buf.indexOf(key);
  if (at < 0) return undefined;
  let n = 0;
  let i = at + key.length;
  const start = i;
  for (; i < buf.length; i++) {
    const d = (buf[i] ?? 0) - 48;
    if (d < 0 || d > 9) break;
    n = n * 10 + d;
  }
  return i > start ? n : undefined;
}

function typeOf(buf: Buffer): string | undefined {
  const at = buf.indexOf(KEY_TYPE);
  if (at < 0) return undefined;
  const end = buf.indexOf(0x22, at + KEY_TYPE.length);
  return end < 0 ? undefined : buf.toString('latin1', at + KEY_TYPE.length, end);
}

function validate(buf: Buffer): void {
  c.validated += 1;
  let why: string | undefined;
  try {
    const r = LiveMessageSchema.safeParse(JSON.parse(buf.toString('utf8')));
    if (!r.success) why = r.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
  } catch (err) {
    why = `not JSON: ${(err as Error).message}`;
  }
  if (why !== undefined) {
    c.invalid += 1;
    firstInvalid ??= why;
  }
}

function onMessage(cl: Client, data: WebSocket.RawData): void {
  const now = Date.now();
  const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
  c.bytes += buf.length;
  const type = typeOf(buf);
  if (cfg.validateEveryMs > 0 && now - lastValidated >= cfg.validateEveryMs) {
    lastValidated = now;
    validate(buf);
  }
  if (type === 'error') {
    c.errors += 1;
    firstError ??= buf.toString('utf8', 0, Math.min(buf.length, 300));
    return;
  }
  if (type !== 'cluster') return;
  c.messages += 1;
  cl.messages += 1;
  const ts = intAfter(buf, KEY_TS);
  if (ts !== undefined) lag.add(Math.max(0.01, now - ts));
  const seq = intAfter(buf, KEY_SEQ) ?? 0;
  const fullAt = buf.indexOf(KEY_FULL);
  const full = fullAt >= 0 && buf[fullAt + KEY_FULL.length] === 0x74; // 't'rue
  if (full) c.fulls += 1;
  else if (cl.lastSeq >= 0 && seq > cl.lastSeq + 1) c.missedTicks += seq - cl.lastSeq - 1;
  cl.lastSeq = seq;
}

function connect(cl: Client): Promise<string | undefined> {
  return new Promise((resolve) => {
    const ws = new WebSocket(cfg.url, { perMessageDeflate: false, handshakeTimeout: 30_000, maxPayload: 512 * 1024 * 1024 });
    cl.ws = ws;
    let settled = false;
    const done = (err?: string): void => {
      if (settled) return;
      settled = true;
      resolve(err);
    };
    ws.on('open', () => {
      cl.open = true;
      cl.lastSeq = -1;
      ws.send(SUBSCRIBE);
      done();
    });
    ws.on('unexpected-response', (_req, res) => {
      done(`HTTP ${res.statusCode} ${String(res.headers['x-stroom-error'] ?? '')}`);
      ws.terminate();
    });
    ws.on('error', (err) => done(err.message));
    ws.on('message', (data) => onMessage(cl, data));
    ws.on('close', (code, reason) => {
      const was = cl.open;
      cl.open = false;
      if (was && running) {
        c.closes += 1;
        firstClose ??= `dashboard ${cl.i}: ${code} ${String(reason)}`;
        redial(cl);
      }
      done(`closed ${code} ${String(reason)}`);
    });
  });
}

function redial(cl: Client): void {
  setTimeout(() => {
    if (!running || cl.open) return;
    void connect(cl).then((err) => {
      if (err === undefined) c.reconnects += 1;
      else redial(cl);
    });
  }, cfg.reconnectMs);
}

const clients: Client[] = Array.from({ length: cfg.clients }, (_, i) => ({ i, ws: undefined, open: false, lastSeq: -1, messages: 0 }));

function report(): DashReport {
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  let open = 0;
  for (const cl of clients) {
    min = Math.min(min, cl.messages);
    max = Math.max(max, cl.messages);
    if (cl.open) open += 1;
    cl.messages = 0;
  }
  const now = Date.now();
  const r: DashReport = {
    wallMs: now - intervalStart,
    open,
    ...c,
    perClientMin: clients.length > 0 ? min : 0,
    perClientMax: max,
    ...(firstError !== undefined ? { firstError } : {}),
    ...(firstInvalid !== undefined ? { firstInvalid } : {}),
    ...(firstClose !== undefined ? { firstClose } : {}),
    lag: lag.counts,
  };
  intervalStart = now;
  firstError = undefined;
  firstInvalid = undefined;
  firstClose = undefined;
  lag = new LogHistogram();
  c = { messages: 0, bytes: 0, fulls: 0, missedTicks: 0, errors: 0, validated: 0, invalid: 0, closes: 0, reconnects: 0 };
  return r;
}

process.on('message', (msg: ToDash) => {
  if (msg.type === 'report') send({ type: 'report', ...report() });
  else {
    running = false;
    for (const cl of clients) cl.ws?.terminate();
    setTimeout(() => process.exit(0), 50);
  }
});
process.on('disconnect', () => process.exit(0));

const errs = await Promise.all(clients.map((cl) => connect(cl)));
const failed = errs.filter((e) => e !== undefined);
// Connections that failed at the start are redialled like dropped ones.
for (const cl of clients) if (!cl.open) redial(cl);
report();
send({ type: 'ready', connected: clients.length - failed.length, failed: failed.length, ...(failed[0] !== undefined ? { firstError: failed[0] } : {}) });
