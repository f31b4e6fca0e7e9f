/**
 * Outbound webhooks: the customer's endpoints, and the deliveries of events to them (claimed by the webhook worker).
 * (Inbound provider callbacks are `CallbacksPort`.)
 */
import type { AuditEntry, DeliveryStatus, WebhookDeliveryRecord, WebhookEndpointRecord } from '../../domain/records.js';


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

export interface WebhooksPort {
  createEndpoint(e: WebhookEndpointRecord, audit: AuditEntry[]): Promise<void>;
  listEndpoints(appId: string): Promise<WebhookEndpointRecord[]>;
  /**
   * Read-modify-write (or delete, when `after` is null: its pending deliveries are canceled at `now`) of an endpoint
   * of the app. Null when unknown.
   */
  updateEndpoint(appId: string, id: string, now: number, change: (before: WebhookEndpointRecord) => { after: WebhookEndpointRecord | null; audit: AuditEntry[] }): Promise<WebhookEndpointRecord | null | 'deleted'>;
  /** Claims due deliveries (pending and due, or sending with an expired lease). */
  claim(now: number, limit: number, leaseMs: number): Promise<ClaimedDelivery[]>;
  complete(outcomes: DeliveryOutcome[]): Promise<void>;
  listDeliveries(appId: string, q: { endpointId?: string | undefined; status?: DeliveryStatus | undefined; limit: number; before?: string | undefined }): Promise<WebhookDeliveryRecord[]>;
  getDelivery(appId: string, id: string): Promise<WebhookDeliveryRecord | null>;
  listAttempts(deliveryId: string): Promise<{ id: string; statusCode: number | null; error: string | null; durationMs: number; at: number }[]>;
  /** Makes a delivery of the app due now again (whatever its status); null when unknown. */
  replay(appId: string, deliveryId: string, now: number, audit: AuditEntry[]): Promise<WebhookDeliveryRecord | null>;
  /** Earliest next attempt of a pending delivery, or lease end of a sending one. */
  nextDueAt(): Promise<number | null>;
  /** Pending deliveries due by `now`, and when the oldest became due (metrics). */
  backlog(now: number): Promise<{ due: number; oldestDueAt: number | null }>;
}
