/**
 * A TCP proxy on loopback between agents and the collector that a test can break:
 * - `cut()`: every connection is destroyed at once and new ones are refused (a switch port
 *   going down, a firewall rule that rejects);
 * - `stall()`: half-open. Connections stay open but nothing moves either way, new ones are
 *   accepted and hang too (a cable pulled mid-path: no FIN, no RST, packets just stop);
 * - `heal()`: forwarding resumes. Bytes held during a stall are delivered then, as TCP would
 *   after a partition heals, and a side that closed meanwhile is closed on the other only after.
 */
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

type Mode = 'open' | 'cut' | 'stalled';

interface Pair {
  readonly client: Socket;
  readonly server: Socket;
}

/** A breakable TCP forwarder to `127.0.0.1:targetPort`. */
export class TcpProxy {
  readonly #server: Server;
  readonly #targetPort: number;
  readonly #pairs = new Set<Pair>();
  #mode: Mode = 'open';
  /** Connections refused while cut. */
  refused = 0;

  private constructor(targetPort: number) {
    this.#targetPort = targetPort;
    this.#server = createServer((client) => this.#accept(client));
  }

  /** Start listening on a free loopback port. */
  static async start(targetPort: number): Promise<TcpProxy> {
    const p = new TcpProxy(targetPort);
    await new Promise<void>((resolve) => p.#server.listen(0, '127.0.0.1', resolve));
    return p;
  }

  /** `http://127.0.0.1:port` of the proxy. */
  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as { port: number }).port}`;
  }

  cut(): void {
    this.#mode = 'cut';
    for (const p of this.#pairs) {
      p.client.destroy();
      p.server.destroy();
    }
    this.#pairs.clear();
  }

  stall(): void {
    this.#mode = 'stalled';
    for (const p of this.#pairs) {
      p.client.pause();
      p.server.pause();
    }
  }

  heal(): void {
    this.#mode = 'open';
    for (const p of this.#pairs) {
      p.client.resume();
      p.server.resume();
    }
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    if (this.#mode === 'cut') {
      this.refused += 1;
      client.destroy();
      return;
    }
    const server = connect(this.#targetPort, '127.0.0.1');
    const pair = { client, server };
    this.#pairs.add(pair);
    if (this.#mode === 'stalled') {
      client.pause();
      server.pause();
    }
    this.#forward(client, server);
    this.#forward(server, client);
    const drop = (): void => {
      this.#pairs.delete(pair);
      client.destroy();
      server.destroy();
    };
    client.on('error', drop);
    server.on('error', drop);
  }

  /** Copy `from` to `to`; an end of `from` (after its data) ends `to`, a reset destroys it. */
  #forward(from: Socket, to: Socket): void {
    from.on('data', (chunk: Buffer) => {
      if (!to.destroyed) to.write(chunk);
    });
    let ended = false;
    from.on('end', () => {
      ended = true;
      to.end();
    });
    from.on('close', () => {
      if (!ended) to.destroy();
    });
  }
}
