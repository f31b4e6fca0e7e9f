/**
 * The HTTP listener's defences and identity, apart from the routes: timeouts and a connection cap against slow or
 * abusive clients, problem JSON for what Node rejects before Fastify sees a request (malformed HTTP, oversized
 * headers, timeouts), and request ids (the caller's `X-Request-Id` when well formed, else a random one).
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import type { HttpLimits } from '../config.js';
import { OtpdError } from '../domain/errors.js';
import { PROBLEM_CONTENT_TYPE, problemBody } from './problem.js';

/** Options for `http.createServer` (through Fastify's `http` option) and Fastify's own timeouts. */
export function listenerOptions(limits: HttpLimits) {
  return {
    http: {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      // Node looks for overdue requests at this interval (30 s by default: a 10 s timeout could take 40 s).
      connectionsCheckingInterval: Math.min(1_000, Math.max(25, Math.floor(limits.headersTimeoutMs / 4))),
      // A request without Host is answered as a problem by otpd (Node's own answer is a bare 400).
      requireHostHeader: false,
    },
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // No socket inactivity timer besides these: every phase of a connection is bounded by the three timeouts (answers
    // are small enough to leave at once), and a timer refreshed on every read and write cost about 2 % of the flow.
  };
}

const REQUEST_ID = /^[A-Za-z0-9._:\-]{1,128}$/;

/** The request id: the caller's X-Request-Id if it is 1-128 safe characters, else `req_` and a random UUID. */
export function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : `req_${randomUUID().replaceAll('-', '')}`;
}

// What llhttp's error codes mean, in words a client developer can act on.
const PARSE_ERRORS: Record<string, string> = {
  HPE_INVALID_METHOD: 'The method is not an HTTP method',
  HPE_INVALID_URL: 'The request target is not a valid URL',
  HPE_INVALID_VERSION: 'The HTTP version is not supported: otpd speaks HTTP/1.1 (and 1.0) on this port',
  HPE_PAUSED_H2_UPGRADE: 'HTTP/2 is not offered on this port: otpd speaks HTTP/1.1',
  HPE_UNEXPECTED_CONTENT_LENGTH: 'Content-Length and Transfer-Encoding: chunked were both given',
  HPE_INVALID_CONTENT_LENGTH: 'Content-Length is invalid or given more than once',
  HPE_INVALID_TRANSFER_ENCODING: 'Transfer-Encoding is invalid',
  HPE_INVALID_CHUNK_SIZE: 'A chunk size is invalid',
  HPE_INVALID_HEADER_TOKEN: 'A header name or value holds a character HTTP does not allow (or a folded header line)',
  HPE_CR_EXPECTED: 'A line does not end with CRLF',
  HPE_LF_EXPECTED: 'A line does not end with CRLF (bare CR)',
  HPE_INVALID_CONSTANT: 'The request line is malformed',
  HPE_STRICT: 'The request is malformed',
};

/** The problem for an error Node raised on a connection before any request reached Fastify. */
export function clientProblem(err: NodeJS.ErrnoException, limits: HttpLimits): OtpdError {
  const code = err.code ?? '';
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return new OtpdError('request_timeout', `The headers must arrive within ${limits.headersTimeoutMs / 1000} s and the whole request within ${limits.requestTimeoutMs / 1000} s`);
  }
  if (code === 'HPE_HEADER_OVERFLOW') return new OtpdError('headers_too_large', 'The request line and headers must fit in 16 KiB');
  return new OtpdError('malformed_request', PARSE_ERRORS[code] ?? `The request is not valid HTTP/1.1 (${code || 'parse error'})`);
}

/**
 * Fastify's `clientErrorHandler`: answers on the raw socket with problem JSON and closes it, when the connection
 * can still carry an answer (nothing of a response was sent yet); otherwise closes it.
 */
export function clientErrorHandler(limits: HttpLimits, log: FastifyBaseLogger) {
  return (err: NodeJS.ErrnoException, socket: Socket): void => {
    const current = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || !socket.writable || current?.headersSent) {
      socket.destroy();
      return;
    }
    const e = clientProblem(err, limits);
    const id = `req_${randomUUID().replaceAll('-', '')}`;
    log.info({ reqId: id, status: e.status, code: e.code, parser: err.code }, 'client error');
    const body = JSON.stringify(problemBody(e, id));
    socket.end(
      `HTTP/1.1 ${e.status} ${STATUS_CODES[e.status]}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Request-Id: ${id}\r\nConnection: close\r\n\r\n${body}`,
    );
  };
}
