/**
 * RFC 9457 problem details: the only error format of the API. Every thrown error ends here; Fastify's own
 * errors (bad JSON, body too large, schema validation) are mapped to catalogue codes so clients see one shape.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ERRORS, OtpdError, type ErrorCode } from '../domain/errors.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

interface ValidationIssue {
  instancePath?: string;
  params?: Record<string, unknown>;
  message?: string;
  keyword?: string;
}

function pointerOf(v: ValidationIssue, context: string | undefined): string {
  let p = v.instancePath ?? '';
  if (v.keyword === 'required' && typeof v.params?.missingProperty === 'string') p += `/${v.params.missingProperty}`;
  if (v.keyword === 'additionalProperties' && typeof v.params?.additionalProperty === 'string') p += `/${v.params.additionalProperty}`;
  return context && context !== 'body' ? `${context}:${p || '/'}` : p || '/';
}

function detailOf(v: ValidationIssue): string {
  if (v.keyword === 'additionalProperties') return 'is not a known field';
  if (v.keyword === 'required') return 'is required';
  if (v.keyword === 'enum' && Array.isArray(v.params?.allowedValues)) return `must be one of ${(v.params.allowedValues as unknown[]).join(', ')}`;
  return v.message ?? 'is invalid';
}

/** Maps anything thrown while handling a request to an OtpdError (unknown errors become `internal`). */
export function toOtpdError(err: unknown): OtpdError {
  if (err instanceof OtpdError) return err;
  const e = err as FastifyError & { validation?: ValidationIssue[]; validationContext?: string };
  if (Array.isArray(e.validation)) {
    const errors = e.validation.map((v) => ({ pointer: pointerOf(v, e.validationContext), detail: detailOf(v) }));
    const first = errors[0];
    return new OtpdError('invalid_request', first ? `${first.pointer} ${first.detail}` : 'The request is invalid', { extensions: { errors } });
  }
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new OtpdError('payload_too_large', e.message);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new OtpdError('unsupported_media_type', 'Send the body as application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new OtpdError('malformed_json', 'The body is empty; send a JSON object');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new OtpdError('malformed_json', 'The body is not valid JSON');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new OtpdError('uri_too_long', 'A path segment is longer than 200 characters');
    case 'FST_ERR_BAD_URL':
      return new OtpdError('malformed_url', 'The URL holds an invalid percent-encoding');
    default:
  }
  if (e instanceof SyntaxError || e.statusCode === 400) return new OtpdError('malformed_json', e.message);
  if (e.statusCode === 413) return new OtpdError('payload_too_large');
  if (e.statusCode === 415) return new OtpdError('unsupported_media_type');
  if (e.statusCode === 404) return new OtpdError('not_found');
  if (e.statusCode === 405) return new OtpdError('method_not_allowed');
  return new OtpdError('internal', 'An unexpected error occurred; the request id is in the logs');
}

/** The problem document for an error. */
export function problemBody(e: OtpdError, requestId: string | undefined, instance?: string): Record<string, unknown> {
  const entry = ERRORS[e.code as ErrorCode];
  return {
    type: `/problems/${e.code}`,
    title: entry.title,
    status: e.status,
    ...(e.detail !== undefined ? { detail: e.detail } : {}),
    ...(instance !== undefined ? { instance } : {}),
    code: e.code,
    ...(requestId !== undefined ? { requestId } : {}),
    ...(e.retryAfter !== undefined ? { retryAfter: e.retryAfter } : {}),
    ...e.extensions,
  };
}

/** Sends an error as problem JSON (with Retry-After when the error carries one). */
export function sendProblem(req: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
  const e = toOtpdError(err);
  if (e.code === 'internal') req.log.error({ err }, 'unhandled error');
  else if (e.status >= 500) req.log.warn({ code: e.code, detail: e.detail }, 'request failed');
  if (e.retryAfter !== undefined) reply.header('retry-after', String(e.retryAfter));
  reply.header('x-request-id', req.id);
  // After a request that is not valid HTTP the connection cannot be trusted to frame the next one.
  if (e.code === 'malformed_request') reply.header('connection', 'close');
  if (e.code === 'unauthorized') reply.header('www-authenticate', 'Bearer realm="otpd"');
  if (e.code === 'invalid_client') reply.header('www-authenticate', 'Basic realm="otpd"');
  return reply
    .code(e.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(JSON.stringify(problemBody(e, req.id, req.url.split('?')[0])));
}
