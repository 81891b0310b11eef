/**
 * Baseline of the collector-ingest benchmark: the least a server can do with the agents'
 * stream. It takes the same WebSocket connections on `/ws/agent` (the node header and a bearer
 * token must be there, but the token is not checked), JSON.parses every frame and acks each
 * batch at once: no validation, no ledger, no storage, no live state.
 *
 * Usage: node parse-only-server.mjs <port> [host]; prints `listening <port>` when ready and
 * exits when its parent goes away.
 */
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

const port = Number(process.argv[2] ?? 0);
const host = process.argv[3] ?? '127.0.0.1';
const wss = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 * 1024, perMessageDeflate: false });
let frames = 0;
let batches = 0;

const server = createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'ok', connections: wss.clients.size, frames, batches }));
    return;
  }
  res.writeHead(404).end();
});

server.on('upgrade', (req, socket, head) => {
  const node = req.headers['x-stroom-node'];
  const auth = req.headers.authorization ?? '';
  if (!(req.url ?? '').startsWith('/ws/agent') || typeof node !== 'string' || !auth.startsWith('Bearer ')) {
    socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    ws.on('error', () => undefined);
    ws.on('message', (data) => {
      frames += 1;
      const msg = JSON.parse(String(data)) as { type?: unknown; seq?: unknown };
      if (msg.type !== 'batch') return;
      batches += 1;
      ws.send(JSON.stringify({ v: 1, type: 'ack', seq: msg.seq }));
    });
  });
});

server.listen(port, host, () => {
  const addr = server.address();
  console.log(`listening ${typeof addr === 'object' && addr !== null ? addr.port : port}`);
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
