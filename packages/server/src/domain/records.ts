/**
 * The records otpd keeps and the rules reason about, as plain data (times in epoch milliseconds). The store maps
 * them to rows; the domain decides how they change; nothing here does I/O.
 */
import type { AppSettings, Channel, CodeType } from './policy.js';

export const STATUSES = ['pending', 'verified', 'failed', 'expired', 'canceled'] as const;
export type Status = (typeof STATUSES)[number];

/** A verification as stored (times in epoch milliseconds). */
export interface VerificationRecord {
  id: string;
  appId: string;
  to: string;
  countryIso: string;
  channel: Channel;
  locale: string;
  status: Status;
  codeType: CodeType;
  codeLength: number;
  codeHash: Buffer;
  /** AES-GCM sealed code; null once the verification left `pending`. */
  codeSealed: Buffer | null;
  attempts: number;
  maxAttempts: number;
  sends: number;
  maxSends: number;
  resendAvailableAt: number;
  expiresAt: number;
  createdAt: number;
  updatedAt: number;
  verifiedAt: number | null;
  parts: number;
  cost: number;
  metadata: Record<string, unknown> | null;
  /** The channel workflow, e.g. ['whatsapp', 'sms']; `channel` is the step being delivered. */
  channels: Channel[];
  step: number;
  /** Seconds to wait for a delivery receipt before moving to the next channel. */
  stepTimeout: number;
  /** Where this verification's events are posted (seed 001), besides the app's webhook endpoints. */
  callbackUrl?: string | null;
  /** What the caller said of the end user at start (guard/: the budgets of their address and device). */
  signals?: Signals | null;
  /** PSD2 dynamic linking: what the code approves (said in every message of the verification; bound into its HMAC). */
  payment?: { amount?: string; payee?: string } | null;
}

/** The end user's signals a start may carry (from the customer's backend, or the client address behind a trusted proxy). */
export interface Signals {
  ip?: string;
  deviceId?: string;
  userAgent?: string;
}

/** Counters per (app, phone). */
export interface PhoneState {
  sends: number;
  failures: number;
  /** Start of the counting window; counters reset once a whole lockout period has passed without a lock. */
  windowStartedAt: number;
  lastSendAt: number | null;
  lockedUntil: number | null;
  lockReason: 'attempts' | 'sends' | null;
}

export interface AppRecord {
  id: string;
  name: string;
  enabled: boolean;
  settings: AppSettings;
  createdAt: number;
  updatedAt: number;
}

export interface ApiKeyRecord {
  id: string;
  appId: string;
  name: string;
  /** First characters of the key, kept to recognise it in a listing. */
  prefix: string;
  /** SHA-256 of the whole key; the key itself is never stored. */
  hash: Buffer;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt?: number | null;
}

export interface OAuthClientRecord {
  id: string;
  appId: string;
  name: string;
  secretHash: Buffer;
  previousSecretHash: Buffer | null;
  previousValidUntil: number | null;
  createdAt: number;
  rotatedAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

/**
 * A provider connection: one provider account (an entry like those of OTPD_PROVIDERS) owned by an app, or shared by
 * the server (`appId` null). Its whole configuration is sealed (AES-256-GCM under a key derived from the server
 * secret, bound to the connection's id): credentials are never stored in the clear.
 */
export interface ConnectionRecord {
  id: string;
  appId: string | null;
  /** Unique among the names the app can route to (its connections, the shared ones, OTPD_PROVIDERS). */
  name: string;
  type: string;
  configSealed: Buffer;
  createdAt: number;
  updatedAt: number;
}

export interface SenderRecord {
  id: string;
  appId: string;
  channel: Channel;
  /** Destination country (ISO) or null for any. */
  country: string | null;
  value: string;
  createdAt: number;
}

export interface TemplateRecord {
  id: string;
  appId: string;
  channel: Channel;
  name: string;
  /** BCP 47 language tag, e.g. fr or fr-BE; null = any language. */
  locale: string | null;
  /** ISO country of the destination; null = any. */
  country: string | null;
  /** E.164 prefix of the destination, e.g. +3247; null = any. */
  prefix: string | null;
  text: string;
  subject: string | null;
  html: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface WebhookEndpointRecord {
  id: string;
  appId: string;
  url: string;
  /** Event types to send; empty = all. */
  events: string[];
  secretSealed: Buffer;
  description: string | null;
  enabled: boolean;
  disabledReason: string | null;
  createdAt: number;
  updatedAt: number;
}

export type DeliveryStatus = 'pending' | 'sending' | 'succeeded' | 'failed' | 'canceled';

export interface WebhookDeliveryRecord {
  id: string;
  appId: string;
  endpointId: string | null;
  url: string;
  eventId: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: number;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
}

/** One recorded admin change. `before`/`after` are the JSON views (secrets never included). */
export interface AuditEntry {
  id: string;
  actor: string;
  action: string;
  targetType: 'app' | 'api_key' | 'oauth_client' | 'template' | 'sender' | 'connection' | 'webhook' | 'lockout' | 'guard' | 'guard_block';
  targetId: string;
  appId: string | null;
  before: unknown;
  after: unknown;
  at: number;
}

/**
 * `waiting`: a later workflow step, queued only if the step before fails or times out. `skipped`: never sent
 * because the verification closed first.
 */
export type OutboxStatus = 'waiting' | 'queued' | 'sending' | 'sent' | 'delivered' | 'undelivered' | 'failed' | 'skipped';

/** One message to deliver (the `msg_…` record). It carries no code: the worker opens the verification's sealed code. */
export interface OutboxRecord {
  id: string;
  appId: string;
  verificationId: string;
  channel: Channel;
  to: string;
  locale: string;
  /** The rendered text with `{{pin}}` still in it; the worker puts the code in at send time. */
  body: string;
  status: OutboxStatus;
  attempts: number;
  availableAt: number;
  createdAt: number;
  sentAt: number | null;
  provider: string | null;
  error: string | null;
  parts: number;
  cost: number;
  /** Workflow step (0 = first channel). */
  step: number;
  /** Provider names for this message, first choice first (chosen at start). */
  route: string[];
  /** Sender id chosen at start (null: the provider's configured sender). */
  sender?: string | null;
  /** Index in `route` of the provider being tried. */
  routeIndex: number;
  /** Tries on the current provider. */
  providerAttempts: number;
  providerMessageId: string | null;
  errorCode: string | null;
  /** Price the provider reported, if any. */
  price: number | null;
  priceCurrency: string | null;
  deliveredAt: number | null;
  failedAt: number | null;
  /** When the next workflow step starts unless a delivery receipt comes first. */
  fallbackAt: number | null;
  /** The provider may or may not have accepted it (timeout after the request was written). */
  outcomeUnknown: boolean;
}

/** One call to a provider. */
export interface AttemptRecord {
  id: string;
  messageId: string;
  provider: string;
  outcome: 'started' | 'accepted' | 'rejected' | 'transient' | 'unknown';
  httpStatus: number | null;
  errorCode: string | null;
  error: string | null;
  providerMessageId: string | null;
  startedAt: number;
  finishedAt: number | null;
}

/**
 * The guard's state of one value of one dimension (guard/rules.ts), shared by every node: e.g. an app's prefix
 * +447700900, with the state of every rule on it.
 */
export interface GuardRow {
  /** `scope|dimension|value`; the scope is the app's id, or `*` for the server's global rules. */
  key: string;
  scope: string;
  dimension: string;
  value: string;
  /** Per rule id. */
  rules: Record<string, RuleState>;
  /** The latest end of its rules' blocks (null: never blocked). */
  blockedUntil: number | null;
  /** From this time on the row says nothing an absent row would not (the maintenance sweep deletes it). */
  expiresAt: number;
}

/**
 * One rule's state for one value: a leaky bucket (`level` units at `at`), the value's verified history (this
 * period, the last, and the decaying maximum of earlier ones), the countries seen (distinct rules), a block.
 */
export interface RuleState {
  level: number;
  at: number;
  vCur: number;
  vPrev: number;
  /** Start of the current period of the verified history. */
  vStart: number;
  vBase: number;
  /** Distinct rules: countries sent to without a verification (`u`) and with one (`v`) this period. */
  seen: { u: string[]; v: string[] } | null;
  blockedUntil: number | null;
  blockedAt: number | null;
  /** Since when an unverified budget has been refusing (null: it is not); staying full blocks the value. */
  fullSince: number | null;
  /** Unverified budgets: verifications of the last minutes (decayed), and when that was last counted. */
  rv: number;
  rvAt: number;
  /** Unverified budgets: sends of the last seconds (decayed from `at`): too young to have been verified. */
  y: number;
  /** When this state stops mattering. */
  exp: number;
}

/**
 * A rule state with its fields in one order. The guard copies states on every request; objects of one shape keep
 * that code monomorphic (states of mixed shapes, some fields missing, measured several times slower).
 */
export function ruleState(s: RuleState): RuleState {
  return {
    level: s.level, at: s.at, vCur: s.vCur, vPrev: s.vPrev, vStart: s.vStart, vBase: s.vBase, seen: s.seen, blockedUntil: s.blockedUntil,
    blockedAt: s.blockedAt, fullSince: s.fullSince, rv: s.rv, rvAt: s.rvAt, y: s.y, exp: s.exp,
  };
}

/** A request the guard refused (enforce) or would have refused (shadow): who, what, which rules and why. */
export interface GuardDecisionRecord {
  id: string;
  appId: string;
  at: number;
  action: 'start' | 'resend' | 'check';
  outcome: 'refused' | 'flagged';
  /** The app's guard mode then (a spend cap refuses in every mode). */
  mode: 'off' | 'shadow' | 'enforce';
  /** The rules that refused, e.g. ['prefix-unverified']. */
  rules: string[];
  /** Reason codes (what the calling backend is told), e.g. ['prefix_concentration', 'blocked']. */
  reasons: string[];
  /** The error answered: fraud_blocked, rate_limited or spend_cap_reached. */
  code: string;
  to: string | null;
  prefix: string | null;
  country: string | null;
  ip: string | null;
  deviceId: string | null;
  userAgent: string | null;
  verificationId: string | null;
}
