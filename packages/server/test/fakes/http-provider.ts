/** A programmable HTTP provider on 127.0.0.1: records every request, answers from a queue of behaviours. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { listenLocal, closeLocal } from './local-server.js';

export type Behaviour =
  | { status: number; json?: unknown; headers?: Record<string, string> }
  | 'hang' // read the request, never answer
  | 'drop'; // read the request, then destroy the socket

export interface Recorded {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export class FakeProvider {
  readonly requests: Recorded[] = [];
  private queue: Behaviour[] = [];
  private server: Server | null = null;
  private waiters: { n: number; resolve: () => void }[] = [];
  url = '';

  constructor(private readonly fallback: Behaviour = { status: 200, json: { status: 'ok', id: 'prov-1' } }) {}

  /** Answers the next requests with these behaviours, in order; then the default. */
  next(...b: Behaviour[]): this {
    this.queue.push(...b);
    return this;
  }

  /** Resolves once `n` requests in total have arrived. */
  received(n: number): Promise<void> {
    if (this.requests.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  async start(): Promise<this> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json: unknown = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        this.requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, text, json });
        for (const w of this.waiters.filter((x) => this.requests.length >= x.n)) w.resolve();
        const b = this.queue.shift() ?? this.fallback;
        if (b === 'hang') return;
        if (b === 'drop') { req.socket.destroy(); return; }
        res.writeHead(b.status, { 'content-type': 'application/json', ...b.headers });
        res.end(b.json === undefined ? '' : JSON.stringify(b.json));
      });
    });
    this.url = await listenLocal(this.server);
    return this;
  }

  async close(): Promise<void> {
    await closeLocal(this.server);
  }
}
