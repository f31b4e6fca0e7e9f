/**
 * Inbound provider callbacks: delivery receipts applied to messages (by domain's `receiptStep`), and the callbacks
 * refused (forged, unknown, malformed), counted. (Outbound customer webhooks are `WebhooksPort`.)
 */
import type { Receipt, ReceiptResult } from '../../domain/delivery.js';


export interface CallbacksPort {
  /**
   * Applies a delivery receipt to the message it names (see `receiptStep`). Delivered clears the pending fallback;
   * undelivered or failed starts the next workflow step if this message is the current step.
   */
  applyReceipt(r: Receipt): Promise<ReceiptResult>;
  /** Records a callback that was refused. */
  recordRejected(source: string, reason: string, at: number): Promise<void>;
  /** How many callbacks were refused, per source and reason. */
  rejectedCounts(): Promise<{ source: string; reason: string; count: number }[]>;
}
