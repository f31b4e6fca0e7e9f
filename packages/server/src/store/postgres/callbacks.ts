/**
 * Inbound provider callbacks: delivery receipts applied to the messages they name (the rule is domain's
 * `receiptStep`), and the callbacks refused, counted.
 */
import { receiptStep, type Receipt, type ReceiptResult } from '../../domain/delivery.js';
import { messageEventData, type EventType } from '../../domain/events.js';
import { newId } from '../../domain/ids.js';
import type { Channel } from '../../domain/policy.js';
import type { OutboxStatus } from '../../domain/records.js';
import type { CallbacksPort } from '../ports/index.js';
import { num, toOutbox } from '../rows.js';
import { q, type Db } from './connection.js';
import type { Events } from './events.js';
import { advance } from './outbox.js';

export class PgCallbacks implements CallbacksPort {
  constructor(private readonly db: Db, private readonly events: Events) {}

  async applyReceipt(r: Receipt): Promise<ReceiptResult> {
    return this.db.tx(async (t): Promise<ReceiptResult> => {
      let id = r.messageId;
      if (!id && r.providerMessageId) id = (await q(t.c, 'outByProvider', [r.provider, r.providerMessageId])).rows[0]?.id as string | undefined;
      const found = id ? (await q(t.c, 'outByIdForUpdate', [id])).rows[0] : undefined;
      const step = receiptStep(found && {
        provider: found.provider as string | null, providerMessageId: found.provider_message_id as string | null, status: found.status as OutboxStatus,
      }, r);
      if (step.action === 'unknown' || step.action === 'mismatch') return { result: step.action };
      const m = found!; // a message was found: without one the step is 'unknown'
      if (step.action === 'ignore') {
        if (step.setProviderMessageId) await q(t.c, 'outSetProviderId', [step.setProviderMessageId, m.id]);
        return { result: 'ignored' };
      }
      await q(t.c, 'outReceipt', [m.id, r.status, r.providerMessageId ?? null, r.at, r.errorCode ?? null]);
      await this.events.emit(t, m.app_id as string, `message.${r.status}` as EventType, async () => messageEventData(toOutbox((await q(t.c, 'outGet', [m.id])).rows[0]!)),
        { verificationId: m.verification_id as string, messageId: m.id as string }, r.at);
      let advanced = false;
      if (step.advance) advanced = (await advance(t, null, m.verification_id as string, num(m.step), r.at)) !== null;
      return { result: 'applied', advanced, appId: m.app_id as string, to: m.to_addr as string, channel: m.channel as Channel, createdAt: num(m.created_at), countryIso: (m.country_iso as string | null) ?? '' };
    });
  }

  async recordRejected(source: string, reason: string, at: number): Promise<void> {
    await this.db.read('cbInsert', [newId('cb', at), source, reason.slice(0, 200), at]);
  }

  async rejectedCounts(): Promise<{ source: string; reason: string; count: number }[]> {
    return (await this.db.read('cbCounts')).map((r) => ({ source: r.source as string, reason: r.reason as string, count: num(r.count) }));
  }
}
