/**
 * The HTTP listener under malformed and slow clients, over raw sockets: every answer otpd writes is RFC 9457
 * problem JSON with a `code` and the request id (where the connection can still carry one), headers and bodies that
 * trickle in are cut off by the configured timeouts (short here, so the test stays fast), idle keep-alive
 * connections are closed, and the connection cap holds. Transport only: it runs on SQLite alone.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startHarness, type Harness } from './helpers.js';

const LIMITS = { headersTimeoutMs: 400, requestTimeoutMs: 800, keepAliveTimeoutMs: 700, maxConnections: 20 };

let h: Harness;
let port: number;
beforeAll(async () => {
  h = await startHarness({ config: { http: LIMITS } });
  port = Number(new URL(h.url).port);
});
afterAll(async () => { await h.close(); });

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Milliseconds from the first byte written to the connection's end. */
  ms: number;
  closed: boolean;
}

function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/** Collects what the server writes until it closes the connection (or `waitMs` passes). */
function collect(s: Socket, waitMs: number): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    let text = '';
    const timer = setTimeout(() => resolve({ text, closed: false }), waitMs);
    s.on('data', (d: Buffer) => { text += d.toString('latin1'); });
    s.on('error', () => undefined);
    s.on('close', () => { clearTimeout(timer); resolve({ text, closed: true }); });
  });
}

function parse(text: string): Omit<RawAnswer, 'ms' | 'closed'> {
  const end = text.indexOf('\r\n\r\n');
  const head = (end < 0 ? text : text.slice(0, end)).split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '')?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status, headers, body: end < 0 ? '' : text.slice(end + 4) };
}

/** Writes `bytes` on a fresh connection and reads the answer until the server closes it. */
async function raw(bytes: string | Buffer, waitMs = 3_000): Promise<RawAnswer> {
  const s = await open();
  const t0 = Date.now();
  const got = collect(s, waitMs);
  s.write(bytes);
  const { text, closed } = await got;
  s.destroy();
  return { ...parse(text), ms: Date.now() - t0, closed };
}

/** Asserts a problem+json answer with `status` and `code`, whose requestId is the X-Request-Id header. */
function expectProblem(a: RawAnswer, status: number, code: string): Record<string, unknown> {
  expect(a.status, a.body).toBe(status);
  expect(a.headers['content-type']).toMatch(/^application\/problem\+json/);
  const p = JSON.parse(a.body) as Record<string, unknown>;
  expect(p).toMatchObject({ status, code, type: `/problems/${code}` });
  expect(typeof p.title).toBe('string');
  expect(p.requestId).toEqual(expect.stringMatching(/^req_[0-9a-f]{32}$/));
  expect(a.headers['x-request-id']).toBe(p.requestId);
  return p;
}

const ok = 'GET /healthz HTTP/1.1\r\nHost: x\r\n';

describe('malformed HTTP gets problem JSON, never a bare answer', () => {
  it.each([
    ['an unknown method', 'FROB /healthz HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['two Content-Length headers', 'POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}'],
    ['Content-Length with chunked encoding', 'POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['a bare CR in a header', 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n'],
    ['a NUL in a header', 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\n\r\n'],
    ['a folded header', 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n'],
    ['the HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
    ['a missing Host', 'GET /healthz HTTP/1.1\r\n\r\n'],
    ['a header line with no colon', 'GET /healthz HTTP/1.1\r\nHost: x\r\nnonsense\r\n\r\n'],
  ])('%s: 400 malformed_request', async (_what, bytes) => {
    const a = await raw(bytes);
    expectProblem(a, 400, 'malformed_request');
    expect(a.closed).toBe(true);
  });

  it('a 20 KB URL: 431 headers_too_large', async () => {
    expectProblem(await raw(`GET /v1/verifications?to=${'1'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`), 431, 'headers_too_large');
  });

  it('a path segment over 200 characters: 414 uri_too_long, before authentication', async () => {
    const a = await raw(`GET /v1/verifications/${'v'.repeat(201)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expectProblem(a, 414, 'uri_too_long');
  });

  it('a bad percent-encoding: 400 malformed_url', async () => {
    const a = await raw(`GET /v1/verifications/%E0%A4%A HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${h.key}\r\nConnection: close\r\n\r\n`);
    expectProblem(a, 400, 'malformed_url');
  });

  it('an unknown route answers 404 not_found as problem JSON with the request id', async () => {
    expectProblem(await raw('GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), 404, 'not_found');
  });
});

describe('request ids', () => {
  it('echoes a well-formed X-Request-Id, on success and on problems', async () => {
    const a = await raw(`${ok}X-Request-Id: trace-42.abc:1\r\nConnection: close\r\n\r\n`);
    expect(a.status).toBe(200);
    expect(a.headers['x-request-id']).toBe('trace-42.abc:1');
    const p = await h.req('GET', '/v1/verifications/ver_nope', undefined, { headers: { 'x-request-id': 'my-id-1' } });
    expect(p.status).toBe(404);
    expect(p.headers.get('x-request-id')).toBe('my-id-1');
    expect(p.body.requestId).toBe('my-id-1');
  });

  it('replaces an unsafe one, and makes random ids (no pid or counter to repeat across restarts)', async () => {
    const a = await raw(`${ok}X-Request-Id: bad id <script>\r\nConnection: close\r\n\r\n`);
    expect(a.headers['x-request-id']).toMatch(/^req_[0-9a-f]{32}$/);
    const ids = await Promise.all([1, 2, 3].map(async () => (await h.req('GET', '/healthz')).headers.get('x-request-id')));
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) expect(id).toMatch(/^req_[0-9a-f]{32}$/);
  });
});

describe('slow clients are cut off', () => {
  it('headers that never finish: 408 request_timeout after the headers timeout', async () => {
    const a = await raw('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ', 5_000);
    expectProblem(a, 408, 'request_timeout');
    expect(a.ms).toBeLessThan(4_000);
  });

  it('headers trickled a byte at a time are cut off too (slowloris)', async () => {
    const s = await open();
    const got = collect(s, 6_000);
    const t0 = Date.now();
    const drip = setInterval(() => { if (!s.destroyed) s.write('X'); }, 100);
    s.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Drip: ');
    const { text, closed } = await got;
    clearInterval(drip);
    s.destroy();
    expect(closed).toBe(true);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expectProblem({ ...parse(text), ms: 0, closed }, 408, 'request_timeout');
  });

  it.each([
    ['POST /oauth/token', 'application/x-www-form-urlencoded', ''],
    ['POST /webhooks/twilio/console', 'application/x-www-form-urlencoded', ''],
    ['POST /v1/verifications', 'application/json', 'key'],
  ])('a body that never comes (%s): 408 after the request timeout', async (line, type, auth) => {
    const credentials = auth ? `Authorization: Bearer ${h.key}\r\n` : '';
    const a = await raw(`${line} HTTP/1.1\r\nHost: x\r\n${credentials}Content-Type: ${type}\r\nContent-Length: 100\r\n\r\n`, 5_000);
    expect(a.closed).toBe(true);
    expect(a.ms).toBeGreaterThanOrEqual(LIMITS.requestTimeoutMs - 50);
    expect(a.ms).toBeLessThan(4_000);
    expectProblem(a, 408, 'request_timeout');
  });

  it('an answer given before the body arrived (401) closes the connection: no second answer, no waiting', async () => {
    const a = await raw('POST /v1/verifications HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n', 5_000);
    expectProblem(a, 401, 'unauthorized');
    expect(a.closed).toBe(true);
    expect(a.ms).toBeLessThan(LIMITS.requestTimeoutMs);
    expect(a.body.match(/HTTP\/1\.1/g)).toBeNull();
  });

  it('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
    const s = await open();
    const got = collect(s, 5_000);
    const t0 = Date.now();
    s.write(`${ok}\r\n`);
    const { text, closed } = await got;
    s.destroy();
    expect(parse(text).status).toBe(200);
    expect(closed).toBe(true);
    const ms = Date.now() - t0;
    expect(ms).toBeGreaterThanOrEqual(LIMITS.keepAliveTimeoutMs - 100);
    expect(ms).toBeLessThan(4_000);
  });
});

describe('connection cap', () => {
  it('closes connections over the cap and keeps serving the ones under it', async () => {
    const held: Socket[] = [];
    try {
      for (let i = 0; i < LIMITS.maxConnections; i++) held.push(await open());
      const extra = await open();
      const { closed } = await collect(extra, 2_000);
      expect(closed).toBe(true);
      // One of the held connections still gets an answer.
      const first = held[0]!;
      const got = collect(first, 2_000);
      first.write(`${ok}Connection: close\r\n\r\n`);
      expect(parse((await got).text).status).toBe(200);
    } finally {
      for (const s of held) s.destroy();
    }
    // Once they are gone, new connections are served again.
    await new Promise((r) => setTimeout(r, 100));
    expect((await h.req('GET', '/admin/v1/apps', undefined, { key: ADMIN_TOKEN })).status).toBe(200);
  });
});
