/**
 * The one catalogue of errors otpd can answer with. Each entry is a stable machine `code` (clients branch on it),
 * the HTTP status the API layer maps it to, and a human title. Adding a code is fine; renaming one breaks clients.
 */
export const ERRORS = {
  // request shape (the HTTP message itself: answered before any route runs)
  malformed_request: { status: 400, title: 'The request is not valid HTTP/1.1' },
  malformed_url: { status: 400, title: 'The request URL is not valid (bad percent-encoding)' },
  request_timeout: { status: 408, title: 'The request was not received in time' },
  uri_too_long: { status: 414, title: 'A path segment of the URL is too long' },
  headers_too_large: { status: 431, title: 'The request line and headers are too large' },
  // request shape (the body and parameters)
  malformed_json: { status: 400, title: 'The request body is not valid JSON' },
  invalid_request: { status: 422, title: 'The request does not match the schema' },
  unsupported_media_type: { status: 415, title: 'Send the body as application/json' },
  payload_too_large: { status: 413, title: 'The request body is too large' },
  invalid_idempotency_key: { status: 400, title: 'The Idempotency-Key header is invalid' },
  idempotency_key_reused: { status: 422, title: 'The Idempotency-Key was already used with another request body' },
  not_found: { status: 404, title: 'No such resource' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  // credentials
  unauthorized: { status: 401, title: 'Missing or invalid credentials' },
  app_disabled: { status: 403, title: 'This app is disabled' },
  origin_not_allowed: { status: 403, title: "This page's origin is not one of the app's widget origins" },
  invalid_client: { status: 401, title: 'Client authentication failed' },
  unsupported_grant_type: { status: 400, title: 'Only grant_type=client_credentials is supported' },
  oauth_invalid_request: { status: 400, title: 'The token request is malformed (RFC 6749 invalid_request)' },
  // verification rules
  invalid_phone_number: { status: 422, title: 'The phone number is not a valid mobile number' },
  invalid_email: { status: 422, title: 'The email address is not valid' },
  country_not_allowed: { status: 422, title: "The destination country is not allowed for this app" },
  invalid_code: { status: 422, title: 'The code is not well formed' },
  channel_unavailable: { status: 503, title: 'No delivery channel is configured for this channel' },
  verification_not_found: { status: 404, title: 'No such verification' },
  verification_not_pending: { status: 409, title: 'The verification is no longer pending' },
  verification_expired: { status: 409, title: 'The verification has expired' },
  max_attempts_reached: { status: 409, title: 'All tries for this verification are used up' },
  no_next_step: { status: 409, title: 'The channel workflow has no further step' },
  name_taken: { status: 409, title: 'The name is already in use' },
  connection_in_use: { status: 409, title: 'A routing rule uses this connection' },
  max_sends_reached: { status: 429, title: 'All sends for this phone are used up' },
  rate_limited: { status: 429, title: 'Too many requests, retry later' },
  phone_locked: { status: 429, title: 'This phone is locked after too many tries or sends' },
  // the guard (guard/)
  fraud_blocked: { status: 403, title: 'The request was refused by fraud protection' },
  spend_cap_reached: { status: 429, title: "The app's spend cap for this period is reached" },
  // provider callbacks
  invalid_signature: { status: 403, title: 'The callback signature does not verify' },
  unknown_callback: { status: 404, title: 'The callback does not match a message sent through this provider' },
  // server
  store_unavailable: { status: 503, title: 'The database is unavailable' },
  shutting_down: { status: 503, title: 'The server is shutting down' },
  internal: { status: 500, title: 'Internal server error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** Extra members of the problem document, e.g. `{ errors: [...] }` for schema failures. */
export type ProblemExtensions = Record<string, unknown>;

/**
 * The only error type otpd throws on purpose. The HTTP layer turns it into RFC 9457 problem JSON.
 * @example throw new OtpdError('phone_locked', 'Locked for 86400 s', { retryAfter: 86400 })
 */
export class OtpdError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: string | undefined;
  /** Seconds a client should wait; becomes the Retry-After header. */
  readonly retryAfter: number | undefined;
  readonly extensions: ProblemExtensions | undefined;

  constructor(code: ErrorCode, detail?: string, opts: { retryAfter?: number; extensions?: ProblemExtensions } = {}) {
    super(detail ?? ERRORS[code].title);
    this.name = 'OtpdError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.detail = detail;
    this.retryAfter = opts.retryAfter;
    this.extensions = opts.extensions;
  }
}

/** True for a known catalogue code; used to serve `/problems/{code}`. */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERRORS, code);
}
