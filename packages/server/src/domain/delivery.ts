/**
 * Delivery, as the rules see it: a message claimed for sending, the outcome of sending it, and what a provider's
 * delivery receipt may change. Pure: the worker and the store call these and write what they return.
 */
import type { AttemptRecord, OutboxRecord, OutboxStatus, Status } from './records.js';
import type { Channel } from './policy.js';

/**
 * How a send failed, which decides what the worker may do next:
 * - `rejected`: a definite refusal (4xx, invalid number, auth): nothing was sent, another provider may be tried;
 * - `transient`: nothing was accepted and trying again later may work (connection refused, 429, 5xx):
 *   retried on the same provider with backoff, then treated as a definite failure of that provider;
 * - `unknown`: the request may have been accepted (timeout or reset after it was written): never re-sent,
 *   never sent through another vendor; a delivery receipt or the workflow timeout settles it.
 */
export type FailureKind = 'rejected' | 'transient' | 'unknown';

/** A claimed outbox row with what rendering needs. `codeSealed` is null when the verification already closed. */
export interface ClaimedMessage extends OutboxRecord {
  codeSealed: Buffer | null;
  verificationStatus: Status;
  /** Seconds the code is valid in total (for templates that state it). */
  ttlSeconds: number;
  /** Whether the verification's workflow has a step after this message's. */
  hasNextStep: boolean;
  /** Seconds to wait for a delivery receipt before the next step starts. */
  stepTimeout: number;
  /** A previous claim recorded an attempt that never finished: the worker died mid-send. */
  crashedAttempt: { id: string; provider: string } | null;
  /** The attempt recorded by this claim ('started'), with the provider chosen for it. */
  attempt: { id: string; provider: string } | null;
  /** The verification's per-request callback URL (events about this message go there too). */
  callbackUrl: string | null;
  /**
   * Made with its verification (a workflow step), not by a resend: a later step is charged to the spend caps when
   * it is sent, a resend was when it was asked for.
   */
  workflowStep: boolean;
  /** The verification's country ('' for an email): analytics count the message there. */
  countryIso: string;
}

/** The outcome of handling one claimed message, written in one go. */
export interface MessageOutcome {
  id: string;
  /** Of the claimed message (so recording the outcome needs no read to know where it belongs). */
  appId: string;
  verificationId: string;
  step: number;
  /** The verification's callback URL, as claimed (undefined: not known, the store looks it up). */
  callbackUrl?: string | null | undefined;
  /** The attempt to close, if a provider was called (or a crashed attempt is being settled). */
  attempt?: { id: string; outcome: Exclude<AttemptRecord['outcome'], 'started'>; httpStatus?: number | undefined; errorCode?: string | undefined; error?: string | undefined; providerMessageId?: string | undefined; finishedAt: number };
  status: 'queued' | 'sent' | 'failed' | 'skipped';
  availableAt?: number;
  routeIndex?: number;
  providerAttempts?: number;
  provider?: string | undefined;
  providerMessageId?: string | undefined;
  errorCode?: string | undefined;
  error?: string | undefined;
  price?: number | undefined;
  priceCurrency?: string | undefined;
  sentAt?: number;
  failedAt?: number;
  fallbackAt?: number | null;
  outcomeUnknown?: boolean;
  /** Start the verification's next workflow step now (this one failed for good). */
  advance?: boolean;
}

/** A provider call about to be made, recorded ('started') before it is: a worker that dies mid-send leaves it behind. */
export interface StartedAttempt { id: string; messageId: string; appId: string; provider: string; startedAt: number }

export interface Receipt {
  provider: string;
  /** otpd's message id; when absent, the message is found by the provider's message id. */
  messageId?: string | undefined;
  providerMessageId?: string | undefined;
  status: 'sent' | 'delivered' | 'undelivered' | 'failed';
  errorCode?: string | undefined;
  at: number;
}

/** `applied`; `unknown`: no such message for that provider; `mismatch`: the provider message id differs; `ignored`: not a forward move. */
/** A receipt's result; applied, with what analytics count it by (the message's channel, creation and country). */
export type ReceiptResult =
  | { result: 'applied'; advanced: boolean; appId: string; to: string; channel: Channel; createdAt: number; countryIso: string }
  | { result: 'unknown' | 'mismatch' | 'ignored' };

/**
 * A message with what its delivery needs, written out field by field. (Spreading the 30-field record and adding
 * these made V8 rebuild the object's shape each time: a start's send and the code reading it ran ~10 % slower.)
 */
export function claimedMessage(m: OutboxRecord, x: Omit<ClaimedMessage, keyof OutboxRecord>): ClaimedMessage {
  return {
    id: m.id, appId: m.appId, verificationId: m.verificationId, channel: m.channel, to: m.to, locale: m.locale, body: m.body, status: m.status,
    attempts: m.attempts, availableAt: m.availableAt, createdAt: m.createdAt, sentAt: m.sentAt, provider: m.provider, error: m.error, parts: m.parts,
    cost: m.cost, step: m.step, route: m.route, sender: m.sender ?? null, routeIndex: m.routeIndex, providerAttempts: m.providerAttempts,
    providerMessageId: m.providerMessageId, errorCode: m.errorCode, price: m.price, priceCurrency: m.priceCurrency, deliveredAt: m.deliveredAt,
    failedAt: m.failedAt, fallbackAt: m.fallbackAt, outcomeUnknown: m.outcomeUnknown,
    codeSealed: x.codeSealed, verificationStatus: x.verificationStatus, ttlSeconds: x.ttlSeconds, hasNextStep: x.hasNextStep, stepTimeout: x.stepTimeout,
    crashedAttempt: x.crashedAttempt, attempt: x.attempt, callbackUrl: x.callbackUrl, workflowStep: x.workflowStep, countryIso: x.countryIso,
  };
}

/** What a delivery receipt does to the message it names, found (or not) as `m`. */
export type ReceiptStep =
  | { action: 'unknown' }
  | { action: 'mismatch' }
  /** Not a forward move: nothing changes, except the provider's message id recorded when the message has none. */
  | { action: 'ignore'; setProviderMessageId: string | null }
  /** The message moves to the receipt's status; a failure starts the next workflow step (when this is the current one). */
  | { action: 'apply'; advance: boolean };

const FINAL: readonly OutboxStatus[] = ['delivered', 'undelivered', 'failed'];

/**
 * The receipt rule: a receipt applies only to a message of the provider that sent it (and with the same provider
 * message id, when both are known), and only moves it forward: from `sending` or `sent` to delivered, undelivered
 * or failed. A `sent` receipt, or one for a message already final, changes nothing.
 */
export function receiptStep(m: { provider: string | null; providerMessageId: string | null; status: OutboxStatus } | undefined, r: Receipt): ReceiptStep {
  if (!m || m.provider !== r.provider) return { action: 'unknown' };
  if (r.providerMessageId && m.providerMessageId && m.providerMessageId !== r.providerMessageId) return { action: 'mismatch' };
  if (r.status === 'sent' || FINAL.includes(m.status) || (m.status !== 'sending' && m.status !== 'sent')) {
    return { action: 'ignore', setProviderMessageId: r.providerMessageId && !m.providerMessageId ? r.providerMessageId : null };
  }
  return { action: 'apply', advance: r.status !== 'delivered' };
}

/** Where an outcome belongs: recording it needs no read. */
const outcomeOf = (m: ClaimedMessage) => ({ id: m.id, appId: m.appId, verificationId: m.verificationId, step: m.step, callbackUrl: m.callbackUrl });

/** When the next workflow step starts unless a delivery receipt comes first (null: no step after this one). */
const fallbackAt = (m: ClaimedMessage, at: number): number | null => (m.hasNextStep ? at + m.stepTimeout * 1000 : null);

/**
 * What is done with a claimed message before any provider is called, or null to send it: a previous worker died
 * during its provider call (the outcome is unknown: never re-sent, the receipt or the step timeout settles it), its
 * verification closed (skipped), or no provider can deliver it (failed, the next workflow step starts).
 */
export function outcomeWithoutSending(m: ClaimedMessage, now: number): MessageOutcome | null {
  if (m.crashedAttempt) {
    return {
      ...outcomeOf(m), status: 'sent', outcomeUnknown: true, errorCode: 'outcome_unknown', error: 'the worker stopped during the provider call',
      attempt: { id: m.crashedAttempt.id, outcome: 'unknown', errorCode: 'worker_interrupted', finishedAt: now },
      sentAt: now, fallbackAt: fallbackAt(m, now),
    };
  }
  if (m.verificationStatus !== 'pending' || !m.codeSealed) {
    return { ...outcomeOf(m), status: 'skipped', errorCode: 'verification_closed', error: `the verification is ${m.verificationStatus}` };
  }
  if (!m.attempt) {
    return { ...outcomeOf(m), status: 'failed', errorCode: 'no_provider', error: `no provider can deliver ${m.channel}`, failedAt: now, advance: true };
  }
  return null;
}

/**
 * A later workflow step its app's spend cap refused (charged before its first provider call): not sent, the claim's
 * attempt closed without a call, and the next step started (a cheaper channel may still fit under the cap).
 */
export function spendRefusedOutcome(m: ClaimedMessage, at: number): MessageOutcome {
  const error = "not sent: the app's spend cap is reached";
  return {
    ...outcomeOf(m), status: 'failed', errorCode: 'spend_cap_reached', error, failedAt: at, advance: true, provider: m.attempt?.provider,
    ...(m.attempt ? { attempt: { id: m.attempt.id, outcome: 'rejected' as const, errorCode: 'spend_cap_reached', error, finishedAt: at } } : {}),
  };
}

/**
 * The provider accepted the message: sent, the attempt accepted, the step's fallback timer started. Written as one
 * whole literal (no spread of a partial object): one shape on the common path keeps the code that reads it fast.
 */
export function acceptedOutcome(m: ClaimedMessage, attemptId: string, provider: string, r: { providerMessageId?: string | undefined; price?: number | undefined; priceCurrency?: string | undefined }, at: number): MessageOutcome {
  return {
    id: m.id, appId: m.appId, verificationId: m.verificationId, step: m.step, callbackUrl: m.callbackUrl,
    status: 'sent', provider, providerMessageId: r.providerMessageId, price: r.price, priceCurrency: r.priceCurrency,
    attempt: { id: attemptId, outcome: 'accepted', providerMessageId: r.providerMessageId, finishedAt: at },
    sentAt: at, fallbackAt: m.hasNextStep ? at + m.stepTimeout * 1000 : null, providerAttempts: m.providerAttempts + 1,
  };
}

/** A failed provider call, its texts already redacted and bounded (delivery/provider-text.ts). */
export interface SendFailure {
  kind: FailureKind;
  /** Redacted error text, and the provider's own error code if it gave one. */
  error: string;
  code: string | undefined;
  httpStatus: number | undefined;
}

/**
 * The failure rule. Unknown outcome (the provider may have accepted it): counted as sent, never re-sent and never
 * sent through another vendor. Transient (nothing accepted) with tries left on this provider: queued again on it
 * after `retryDelayMs(tries)`. Otherwise a definite failure of this provider: the next provider of the route now,
 * and when none is left, the message fails and the next workflow step starts.
 */
export function failedOutcome(m: ClaimedMessage, attemptId: string, provider: string, f: SendFailure, o: { maxTries: number; retryDelayMs: (tries: number) => number }, at: number): MessageOutcome {
  const attempt = { id: attemptId, outcome: f.kind, httpStatus: f.httpStatus, errorCode: f.code, error: f.error, finishedAt: at };
  const base = { ...outcomeOf(m), provider, errorCode: f.code ?? f.kind, error: f.error, attempt };
  const tries = m.providerAttempts + 1;
  if (f.kind === 'unknown') return { ...base, status: 'sent', outcomeUnknown: true, sentAt: at, fallbackAt: fallbackAt(m, at), providerAttempts: tries };
  if (f.kind === 'transient' && tries < o.maxTries) {
    return { ...base, status: 'queued', availableAt: at + o.retryDelayMs(tries), providerAttempts: tries, routeIndex: m.routeIndex };
  }
  if (m.routeIndex + 1 < m.route.length) return { ...base, status: 'queued', availableAt: at, routeIndex: m.routeIndex + 1, providerAttempts: 0 };
  return { ...base, status: 'failed', failedAt: at, providerAttempts: tries, advance: true };
}
