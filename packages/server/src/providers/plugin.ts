/**
 * What a provider folder contributes to the registry (`registry.ts`): its configuration schema, its factory, and,
 * when the provider posts delivery receipts back, its callbacks: how each is authenticated and read into receipts.
 * The callbacks know nothing of the store or of Fastify: `delivery/provider-callbacks.ts` applies what they return
 * and records what they refuse, `api/routes/provider-callbacks.ts` serves their routes.
 */
import type { Static, TObject, TSchema } from '@sinclair/typebox';
import type { Writable } from 'node:stream';
import type { CodeKeys } from '../domain/code.js';
import type { Receipt } from '../domain/delivery.js';
import type { DevInbox } from '../delivery/dev-inbox.js';
import type { DeliveryProvider } from './types.js';

/** What the console provider needs (development only; null in production). */
export type DevEnv = { inbox: DevInbox; out: { write(s: string): unknown } | Writable | null; now: () => number } | null;

export interface ProviderPlugin<S extends TObject = TObject> {
  /** The `type` of its entries in OTPD_PROVIDERS, and of its callback URLs (`/webhooks/{type}/{name}`). */
  readonly type: string;
  /** One entry of OTPD_PROVIDERS (with `name` and `type`). */
  readonly schema: S;
  /** What the schema cannot say, as sentences naming fields, never values (some are credentials). */
  check?(config: Static<S>): string[];
  /** Builds the provider from a valid entry; throws when the entry cannot work. */
  create(config: Static<S>, dev: DevEnv): DeliveryProvider;
  /** Its delivery receipts, when it sends any. */
  readonly callbacks?: ProviderCallbackRoutes | undefined;
  /**
   * Where its entry holds credentials, as JSON pointers (`*`: every member): masked whenever a connection is shown
   * (a URL keeps everything but its password).
   */
  readonly secrets?: readonly string[] | undefined;
}

/** Typed in its own schema, stored in the registry's list. */
export function defineProvider<S extends TObject>(plugin: ProviderPlugin<S>): ProviderPlugin<S> {
  return plugin;
}

/** A provider callback as it arrived: nothing of it is trusted before the provider's `handle` authenticated it. */
export interface CallbackRequest {
  /** HEAD (answered by the GET route) reads like a GET. */
  method: 'GET' | 'POST';
  /** Path and query exactly as received, percent-encoding untouched. */
  url: string;
  /** The query as the server parsed it (a repeated name gives an array). */
  query: Record<string, unknown>;
  /** Lower-case names. */
  headers: Record<string, string | string[] | undefined>;
  /** With `bodies: 'parsed'`: a form's fields, a JSON value or text; with `bodies: 'raw'`: absent. */
  body: unknown;
  /** The body's exact bytes: with `bodies: 'raw'` always (when there is a body); with `'parsed'`, of JSON only. */
  raw?: { bytes: Buffer; type: 'json' | 'form' } | undefined;
}

export interface CallbackContext {
  /** The provider name in the URL. */
  name: string;
  /** The configured provider of that name, of whatever type (undefined: none). */
  provider: DeliveryProvider | undefined;
  keys: CodeKeys;
  now(): number;
  /** otpd's public URL, when it has one (the base of the callback URLs it gave out). */
  publicUrl: string | undefined;
}

/** A receipt read from a callback (the provider name and the time are added when it is applied). */
export type ReceiptFields = Omit<Receipt, 'provider' | 'at'>;

/**
 * What a callback said. `refused`: recorded and counted, answered 403 (`invalid_signature`) or 404
 * (`unknown_callback`). `receipts`: authenticated, to apply (none: acknowledged, nothing recorded); one for a message
 * otpd does not know refuses the callback (404), or with `unmatched: 'record'` is recorded and still acknowledged
 * (batches such as Meta's, which retries any other answer). `reply`: a text answer that is not a receipt (a
 * verification handshake). Errors thrown (`OtpdError`) are answered as they are, not recorded.
 */
export type CallbackResult =
  | { kind: 'refused'; code: 'invalid_signature' | 'unknown_callback'; reason: string }
  | { kind: 'receipts'; receipts: ReceiptFields[]; unmatched?: 'refuse' | 'record' }
  | { kind: 'reply'; text: string };

/** Refused: recorded, counted, answered 403 or 404. */
export const refuse = (code: 'invalid_signature' | 'unknown_callback', reason: string): CallbackResult => ({ kind: 'refused', code, reason });
/** Authenticated: these receipts (none: nothing to record), each refusing the callback when otpd does not know its message. */
export const accept = (...list: ReceiptFields[]): CallbackResult => ({ kind: 'receipts', receipts: list });

/** One route under `/webhooks/{type}/{name}`, documented in the OpenAPI document (tag `webhooks`). */
export interface CallbackRoute {
  method: 'GET' | 'POST';
  /** Shown after "Provider callback: " in the OpenAPI document. */
  summary: string;
  description: string;
  querystring?: TSchema;
  body?: TSchema;
  /** The problem statuses it answers (the common ones are added). */
  problems: number[];
  /** Its success answer: 204 or 200 without a body, or 200 with text/plain (described). */
  ok: 204 | 200 | { text: string };
  handle(ctx: CallbackContext, req: CallbackRequest): Promise<CallbackResult> | CallbackResult;
}

export interface ProviderCallbackRoutes {
  /**
   * How bodies reach `handle`: `parsed` (a form's fields; JSON parsed, its bytes kept; malformed JSON is a 400
   * before `handle`), or `raw` (bytes only, JSON or form, parsed by `handle` once it has authenticated them).
   */
  bodies: 'parsed' | 'raw';
  routes: readonly CallbackRoute[];
}
