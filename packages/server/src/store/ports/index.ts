/**
 * The store: one small port per aggregate, implemented alike by `sqlite/` and `postgres/` (each a folder of modules,
 * one per port, composed by its `index.ts`). Services call `store.verifications.start(…)`, `store.apps.get(…)`.
 * One contract suite (test/store.test.ts) runs against both adapters.
 */
import type { EventType } from '../../domain/events.js';
import type { VerificationRecord } from '../../domain/records.js';
import type { AnalyticsPort } from './analytics.js';
import type { AppConfigPort } from './app-config.js';
import type { AppsPort } from './apps.js';
import type { AuditPort } from './audit.js';
import type { CallbacksPort } from './callbacks.js';
import type { CredentialsPort } from './credentials.js';
import type { GuardPort } from './guard.js';
import type { MaintenancePort } from './maintenance.js';
import type { OutboxPort } from './outbox.js';
import type { PhonesPort } from './phones.js';
import type { RevocationsPort } from './revocations.js';
import type { VerificationsPort } from './verifications.js';
import type { WebhooksPort } from './webhooks.js';

export type * from './analytics.js';
export type * from './app-config.js';
export type * from './apps.js';
export type * from './audit.js';
export type * from './callbacks.js';
export type * from './credentials.js';
export type * from './guard.js';
export type * from './maintenance.js';
export type * from './outbox.js';
export type * from './phones.js';
export type * from './revocations.js';
export type * from './verifications.js';
export type * from './webhooks.js';

/** What the store tells the rest of the process (set once by the composition root). */
export interface StoreHooks {
  /** Outbox work became due on another node (PostgreSQL: LISTEN/NOTIFY). */
  onWork?: (() => void) | undefined;
  /** An app's configuration (credentials, templates, senders, endpoints) changed on any node; `*` = all. */
  onAppChanged?: ((appId: string) => void) | undefined;
  /** A commit wrote events with deliveries (wakes the webhook worker). */
  onEvents?: (() => void) | undefined;
  /**
   * A verification's transition (created, verified, failed, expired, canceled), once, after the commit that wrote it,
   * whether anyone listens to its event or not (analytics).
   */
  onVerificationEvent?: ((type: EventType, v: VerificationRecord, at: number) => void) | undefined;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  readonly hooks: StoreHooks;
  readonly apps: AppsPort;
  readonly credentials: CredentialsPort;
  readonly phones: PhonesPort;
  readonly appConfig: AppConfigPort;
  readonly verifications: VerificationsPort;
  readonly outbox: OutboxPort;
  readonly callbacks: CallbacksPort;
  readonly webhooks: WebhooksPort;
  readonly audit: AuditPort;
  readonly guard: GuardPort;
  readonly maintenance: MaintenancePort;
  readonly analytics: AnalyticsPort;
  readonly revocations: RevocationsPort;
  /** Applies pending migrations; returns the names applied. */
  migrate(): Promise<string[]>;
  /** Cheap liveness query for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
