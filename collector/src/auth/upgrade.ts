/** Refusing a WebSocket handshake with an HTTP status and a reason, before any socket opens. */
import type { Duplex } from 'node:stream';

const STATUS_TEXT: Record<number, string> = { 401: 'Unauthorized', 403: 'Forbidden', 503: 'Service Unavailable' };

/**
 * Answer the upgrade request with `status` and `why` (body and `X-Stroom-Error`, which the
 * agent logs) and close. `why` must never contain a secret.
 */
export function refuseUpgrade(socket: Duplex, status: number, why: string, extraHeaders: Record<string, string> = {}): void {
  const headers = Object.entries(extraHeaders).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: text/plain\r\nX-Stroom-Error: ${why}\r\n${headers}Content-Length: ${Buffer.byteLength(why)}\r\n\r\n${why}`);
}
