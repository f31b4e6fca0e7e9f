/**
 * The store port. Each use case that must be atomic is ONE method here: the adapter opens the transaction, reads
 * what the decision needs, calls the pure decision callback (from `domain/`) inside the transaction and writes
 * what it returns. Callbacks are synchronous and do no I/O, so an adapter may run them between two statements of
 * a transaction that holds its row locks.
 */
import type { OtpdError } from '../domain/errors.js';
import type { AppSettings, Channel } from '../domain/policy.js';
import type { PhoneState, Status, VerificationRecord } from '../domain/verification.js';

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

/** A claimed delivery with what sending needs. */
export interface ClaimedDelivery extends WebhookDeliveryRecord {
  eventType: string;
  eventCreatedAt: number;
  eventData: unknown;
  /** The sealed signing secret: the endpoint's, or the app's callback secret for a per-verification callback URL (null: gone or disabled). */
  secretSealed: Buffer | null;
  /** The id the secret is sealed under (the endpoint id, or the app id for callbacks). */
  secretOwner: string;
}

export interface DeliveryOutcome {
  id: string;
  status: 'pending' | 'succeeded' | 'failed';
  nextAttemptAt?: number;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  at: number;
  /** 410 Gone: disable the endpoint and cancel its other pending deliveries. */
  disableEndpoint?: string | undefined;
}

/** One recorded admin change. `before`/`after` are the JSON views (secrets never included). */
export interface AuditEntry {
  id: string;
  actor: string;
  action: string;
  targetType: 'app' | 'api_key' | 'oauth_client' | 'template' | 'sender' | 'webhook' | 'lockout';
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
}

/** What the claim asks the worker's router: a provider for this message now (and its index in the route). */
export type ChooseProvider = (m: ClaimedMessage) => { provider: string; routeIndex: number; attemptId: string } | null;

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
export type ReceiptResult = { result: 'applied'; advanced: boolean; appId: string; to: string } | { result: 'unknown' | 'mismatch' | 'ignored' };

export interface IdempotencyInput {
  key: string;
  requestHash: Buffer;
  expiresAt: number;
}

/** A provider call about to be made, recorded ('started') before it is: a worker that dies mid-send leaves it behind. */
export interface StartedAttempt { id: string; messageId: string; appId: string; provider: string; startedAt: number }

export type StartDecision =
  /**
   * `messages`: one per workflow step, the first `queued` (or `sending`: already claimed by this node's worker,
   * which sends it right after the commit; `attempts` then holds its started attempt), the others `waiting`.
   */
  | { ok: true; phone: PhoneState; verification: VerificationRecord; messages: OutboxRecord[]; attempts?: StartedAttempt[]; response: string }
  | { ok: false; error: OtpdError; phone?: PhoneState };

export type StartResult =
  | { kind: 'created'; verification: VerificationRecord; response: string }
  | { kind: 'replayed'; response: string };

export type ResendDecision =
  | { ok: true; phone: PhoneState; verification: VerificationRecord; message: OutboxRecord }
  | { ok: false; error: OtpdError; phone?: PhoneState };

export type CheckTarget = { id: string } | { to: string };

export type CheckResult =
  | { outcome: 'verified' | 'wrong'; verification: VerificationRecord }
  | { outcome: 'closed'; verification: VerificationRecord };

export interface ListQuery {
  to?: string | undefined;
  status?: Status | undefined;
  limit: number;
  /** Return verifications with ids strictly before (older than) this one. */
  before?: string | undefined;
}

/** Rows deleted per table by one retention batch. */
export type PurgeCounts = Record<string, number>;

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Called when outbox work became due on another node (PostgreSQL: LISTEN/NOTIFY). */
  onWork?: (() => void) | undefined;
  /** Called when an app's configuration (credentials, templates, senders, endpoints) changed on any node; `*` = all. */
  onAppChanged?: ((appId: string) => void) | undefined;

  /** Applies pending migrations; returns the names applied. */
  migrate(): Promise<string[]>;
  /** Cheap liveness query for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;

  createApp(app: AppRecord, key: ApiKeyRecord, audit?: AuditEntry[], callbackSecretSealed?: Buffer): Promise<void>;
  listApps(): Promise<AppRecord[]>;
  getApp(id: string): Promise<AppRecord | null>;
  /**
   * Read-modify-write of an app in one transaction: `change` gets the current app and returns the new one and the
   * audit entries to record with it (or throws). Null when the app does not exist.
   */
  updateApp(id: string, change: (before: AppRecord) => { after: AppRecord; audit: AuditEntry[] }): Promise<AppRecord | null>;
  /** Deletes an app and its credentials (its verifications stay until retention removes them). */
  deleteApp(id: string, audit: (before: AppRecord) => AuditEntry[]): Promise<boolean>;
  createKey(key: ApiKeyRecord, audit: AuditEntry[]): Promise<void>;
  listKeys(appId: string): Promise<ApiKeyRecord[]>;
  /** Revokes a key of the app; returns it as it is after (null when unknown). Revoking twice keeps the first time. */
  revokeKey(appId: string, keyId: string, now: number, audit: (before: ApiKeyRecord) => AuditEntry[]): Promise<ApiKeyRecord | null>;
  /** Notes that keys were used (batched by the caller; at most one write per key and minute). */
  touchKeys(uses: { keyId: string; at: number }[]): Promise<void>;
  /** Phones of an app that are locked at `now` (or the one phone `to`, locked or not), newest lock first. */
  /** Stores a new sealed callback secret for an app (rotation), with its audit entry; false when the app is unknown. */
  setCallbackSecret(appId: string, sealed: Buffer, audit: AuditEntry[]): Promise<boolean>;
  hasCallbackSecret(appId: string): Promise<boolean>;
  createEndpoint(e: WebhookEndpointRecord, audit: AuditEntry[]): Promise<void>;
  listEndpoints(appId: string): Promise<WebhookEndpointRecord[]>;
  /** Read-modify-write (or delete, when `after` is null) of an endpoint of the app. Null when unknown. */
  updateEndpoint(appId: string, id: string, change: (before: WebhookEndpointRecord) => { after: WebhookEndpointRecord | null; audit: AuditEntry[] }): Promise<WebhookEndpointRecord | null | 'deleted'>;
  /** Claims due webhook deliveries (pending and due, or sending with an expired lease). */
  claimDeliveries(now: number, limit: number, leaseMs: number): Promise<ClaimedDelivery[]>;
  completeDeliveries(outcomes: DeliveryOutcome[]): Promise<void>;
  listDeliveries(appId: string, q: { endpointId?: string | undefined; status?: DeliveryStatus | undefined; limit: number; before?: string | undefined }): Promise<WebhookDeliveryRecord[]>;
  getDelivery(appId: string, id: string): Promise<WebhookDeliveryRecord | null>;
  listDeliveryAttempts(deliveryId: string): Promise<{ id: string; statusCode: number | null; error: string | null; durationMs: number; at: number }[]>;
  /** Makes a delivery of the app due now again (whatever its status); null when unknown. */
  replayDelivery(appId: string, deliveryId: string, now: number, audit: AuditEntry[]): Promise<WebhookDeliveryRecord | null>;
  /** Closes up to `limit` pending verifications whose expiry passed (emitting verification.expired); returns how many. */
  expireDue(now: number, limit: number): Promise<number>;
  /** Earliest next attempt of a pending delivery, or lease end of a sending one. */
  nextDeliveryDueAt(): Promise<number | null>;
  /** Called after a commit that wrote events with deliveries (wakes the webhook worker). */
  onEvents?: (() => void) | undefined;
  listSenders(appId: string): Promise<SenderRecord[]>;
  createSender(s: SenderRecord, audit: AuditEntry[]): Promise<void>;
  /** Deletes a sender of the app; false when unknown. */
  deleteSender(appId: string, id: string, audit: (before: SenderRecord) => AuditEntry[]): Promise<boolean>;
  listTemplates(appId: string): Promise<TemplateRecord[]>;
  /** Inserts, replaces (same id) or deletes (`after` null) a template of the app, with its audit entries. */
  saveTemplate(appId: string, id: string, change: (before: TemplateRecord | null) => { after: TemplateRecord | null; audit: AuditEntry[] }): Promise<TemplateRecord | null>;
  createClient(c: OAuthClientRecord, audit: AuditEntry[]): Promise<void>;
  getClient(id: string): Promise<{ client: OAuthClientRecord; app: AppRecord } | null>;
  listClients(appId: string): Promise<OAuthClientRecord[]>;
  /** Read-modify-write of a client of the app (rotate, revoke). Null when unknown. */
  updateClient(appId: string, id: string, change: (before: OAuthClientRecord) => { after: OAuthClientRecord; audit: AuditEntry[] }): Promise<OAuthClientRecord | null>;
  touchClient(id: string, at: number): Promise<void>;
  listPhoneStates(appId: string, q: { to?: string | undefined; now: number; limit: number }): Promise<(PhoneState & { to: string })[]>;
  /** Clears a phone's counters and lock (admin unblock). Returns the state before, or null when there was none. */
  clearPhoneState(appId: string, to: string, now: number, audit: (before: PhoneState) => AuditEntry[]): Promise<PhoneState | null>;
  listAudit(q: { appId?: string | undefined; targetId?: string | undefined; limit: number; before?: string | undefined }): Promise<AuditEntry[]>;
  /** The key with this hash and its app, if any (revoked and expired keys included: the caller decides). */
  findKey(hash: Buffer): Promise<{ key: ApiKeyRecord; app: AppRecord } | null>;

  /**
   * Starts a verification in ONE transaction: idempotency replay, the phone's counters, the decision, then the
   * pending verification of the same phone canceled, the new one and its outbox message inserted, the counters and
   * the idempotency record written. A refusal may still record a lock. Throws the decision's error after commit.
   * `idempotency` with the same key and another hash throws `idempotency_key_reused`.
   */
  startVerification(
    input: { appId: string; to: string; now: number; lockout: number; idempotency?: IdempotencyInput | undefined },
    decide: (phone: PhoneState | undefined) => StartDecision,
  ): Promise<StartResult>;

  /**
   * Checks a code in ONE transaction: the try is counted by one guarded `UPDATE … RETURNING` (only while pending,
   * unexpired and under the limit) before `judge` compares; then the status and the phone's counters change.
   * A pending verification past its expiry is closed as expired. Null when no such verification is in the app.
   */
  checkVerification(
    input: { appId: string; target: CheckTarget; now: number; lockout: number },
    judge: (v: VerificationRecord) => boolean,
  ): Promise<CheckResult | null>;

  /** Resends in ONE transaction: the decision sees the verification and the phone's counters. Null when not found. */
  resendVerification(
    input: { appId: string; id: string; now: number },
    decide: (v: VerificationRecord, phone: PhoneState | undefined) => ResendDecision,
  ): Promise<VerificationRecord | null>;

  /** Cancels a pending verification (or closes it as expired). Null when not found; otherwise the row after. */
  cancelVerification(appId: string, id: string, now: number): Promise<VerificationRecord | null>;

  getVerification(appId: string, id: string): Promise<VerificationRecord | null>;
  listVerifications(appId: string, q: ListQuery, now: number): Promise<VerificationRecord[]>;

  /**
   * Claims up to `limit` due messages for `leaseMs` (a crashed worker's claims become due again). For each, unless
   * a previous attempt never finished (then `crashedAttempt` is set and nothing is chosen), `choose` picks a
   * provider and a 'started' attempt is recorded in the same transaction, before any provider is called.
   */
  claimMessages(now: number, limit: number, leaseMs: number, choose: ChooseProvider): Promise<ClaimedMessage[]>;
  /** Records the outcomes of claimed messages; `advance` queues the verification's next workflow step. */
  completeMessages(outcomes: MessageOutcome[], now: number): Promise<void>;
  /**
   * Queues the next workflow step of a pending verification if its current step is `fromStep` (guarded, so two
   * triggers never advance twice). Returns the step now being delivered, or null when there is none to start.
   */
  advanceStep(appId: string, verificationId: string, fromStep: number, now: number): Promise<number | null>;
  /** Starts the next step for every sent message whose fallback time passed without a delivery receipt. */
  fireFallbacks(now: number, limit: number): Promise<number>;
  /** Earliest time something becomes due (a queued message, a retry, a fallback), for the worker's timer. */
  nextDueAt(): Promise<number | null>;
  /**
   * Applies a delivery receipt to the message `messageId` sent through `provider` (and, when both are known, only
   * if the provider message id matches). Delivered clears the pending fallback; undelivered or failed starts the
   * next workflow step if this message is the current step. Receipts only move a message forward.
   */
  applyReceipt(r: Receipt): Promise<ReceiptResult>;
  /** Records a callback that was refused (forged, unknown, malformed). */
  recordRejectedCallback(source: string, reason: string, at: number): Promise<void>;
  /** How many callbacks were refused, per source and reason. */
  rejectedCallbackCounts(): Promise<{ source: string; reason: string; count: number }[]>;
  /** Messages of a verification, oldest first. */
  listMessages(appId: string, verificationId: string): Promise<OutboxRecord[]>;
  /** Provider calls for a message, oldest first. */
  listAttempts(messageId: string): Promise<AttemptRecord[]>;

  /** Deletes idempotency records past their expiry; returns how many. */
  purgeIdempotency(now: number): Promise<number>;
  /**
   * Retention: deletes at most `limit` rows per table of verifications, messages, attempts, events and webhook
   * deliveries created before `before` (found by their time-ordered ids). Callers repeat while a table is full.
   */
  purgeBefore(before: number, limit: number): Promise<PurgeCounts>;
}
