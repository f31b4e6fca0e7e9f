/**
 * Providers that echo the request they refuse, as many do (HTTP gateways answer with the body they could not
 * take, SMTP servers quote the data): their first answer is a transient error quoting the whole request, code
 * included; later ones accept. What they received and what they answered is recorded.
 */
import { createServer, type Server } from 'node:http';
import { listenLocal, closeLocal } from './local-server.js';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface EchoAnswer {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

/** One request and the answer it got. */
export interface EchoExchange {
  path: string;
  request: string;
  answer: string;
}

/** An HTTP provider: `answer(request, n)` gives the answer to the n-th request (0-based). */
export class EchoHttp {
  readonly exchanges: EchoExchange[] = [];
  private server: Server | null = null;
  url = '';

  constructor(private readonly answer: (request: string, n: number) => EchoAnswer) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const request = Buffer.concat(chunks).toString();
        const a = this.answer(request, this.exchanges.length);
        this.exchanges.push({ path: req.url ?? '', request, answer: a.body });
        res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
        res.end(a.body);
      });
    });
    this.url = await listenLocal(this.server);
    return this;
  }

  async close(): Promise<void> {
    await closeLocal(this.server);
  }
}

/** An SMTP server: the first message's end of DATA gets a 451 quoting the data; the next ones are accepted. */
export class EchoSmtp {
  readonly exchanges: EchoExchange[] = [];
  private server: SMTPServer | null = null;
  port = 0;

  async start(): Promise<this> {
    this.server = new SMTPServer({
      authOptional: true, disabledCommands: ['STARTTLS'], logger: false, closeTimeout: 100,
      onData: (stream, _s, cb) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const request = Buffer.concat(chunks).toString();
          if (this.exchanges.length === 0) {
            const answer = `4.3.0 Temporary failure, message not queued: ${request}`;
            this.exchanges.push({ path: 'DATA', request, answer });
            return cb(Object.assign(new Error(answer), { responseCode: 451 }));
          }
          this.exchanges.push({ path: 'DATA', request, answer: 'queued' });
          cb(null);
        });
      },
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
