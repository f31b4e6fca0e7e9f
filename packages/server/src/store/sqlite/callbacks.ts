/** Inbound provider callbacks: delivery receipts applied to messages, and the callbacks refused, counted. */
import { receiptStep, type Receipt, type ReceiptResult } from '../../domain/delivery.js';
import type { EventType } from '../../domain/events.js';
import { newId } from '../../domain/ids.js';
import type { Channel } from '../../domain/policy.js';
import type { OutboxStatus } from '../../domain/records.js';
import type { CallbacksPort } from '../ports/index.js';
import { num, type Row } from '../rows.js';
import type { SqliteContext } from './db.js';
import type { OutboxRows } from './outbox.js';

const cols = `id, app_id, to_addr, verification_id, step, status, provider, provider_message_id, channel, created_at,
  (SELECT country_iso FROM verifications v WHERE v.id = outbox.verification_id) AS country_iso`;

export function sqliteCallbacks(c: SqliteContext, outbox: OutboxRows): CallbacksPort {
  const s = {
    rcpById: c.prepare('rcpById', `SELECT ${cols} FROM outbox WHERE id = ?`),
    rcpByProviderId: c.prepare('rcpByProviderId', `SELECT ${cols} FROM outbox WHERE provider = ? AND provider_message_id = ?`),
    rcpSetProviderId: c.prepare('rcpSetProviderId', 'UPDATE outbox SET provider_message_id = ? WHERE id = ?'),
    rcpApply: c.prepare('rcpApply', `UPDATE outbox SET status = @status, fallback_at = NULL, provider_message_id = coalesce(provider_message_id, @pmid),
        delivered_at = CASE WHEN @status = 'delivered' THEN @at ELSE delivered_at END,
        failed_at = CASE WHEN @status = 'delivered' THEN failed_at ELSE @at END,
        error_code = CASE WHEN @status = 'delivered' THEN error_code ELSE coalesce(@code, error_code) END,
        outcome_unknown = 0
      WHERE id = @id`),
    cbInsert: c.prepare('cbInsert', 'INSERT INTO rejected_callbacks (id, source, reason, received_at) VALUES (?, ?, ?, ?)'),
  };

  return {
    async applyReceipt(r: Receipt) {
      return c.tx((): ReceiptResult => {
        const m = (r.messageId ? s.rcpById.get(r.messageId)
          : r.providerMessageId ? s.rcpByProviderId.get(r.provider, r.providerMessageId) : undefined) as Row | undefined;
        const step = receiptStep(m && {
          provider: (m.provider as string | null) ?? null, providerMessageId: (m.provider_message_id as string | null) ?? null, status: m.status as OutboxStatus,
        }, r);
        if (!m || step.action === 'unknown') return { result: 'unknown' };
        if (step.action === 'mismatch') return { result: 'mismatch' };
        if (step.action === 'ignore') {
          if (step.setProviderMessageId) s.rcpSetProviderId.run(step.setProviderMessageId, m.id);
          return { result: 'ignored' };
        }
        s.rcpApply.run({ id: m.id, status: r.status, pmid: r.providerMessageId ?? null, at: r.at, code: r.errorCode ?? null });
        const appId = m.app_id as string;
        const messageId = m.id as string;
        const verificationId = m.verification_id as string;
        c.emit(appId, `message.${r.status}` as EventType, outbox.messageData(messageId), { verificationId, messageId }, r.at);
        const advanced = step.advance ? outbox.advanceSync(null, verificationId, num(m.step), r.at) !== null : false;
        return { result: 'applied', advanced, appId, to: m.to_addr as string, channel: m.channel as Channel, createdAt: num(m.created_at), countryIso: (m.country_iso as string | null) ?? '' };
      });
    },

    async recordRejected(source, reason, at) {
      await c.tx(() => s.cbInsert.run(newId('cb', at), source, reason.slice(0, 200), at));
    },

    /** Reads the whole table on purpose (a metrics scrape), so it stays out of `explainPlans`' registry of indexed statements. */
    async rejectedCounts() {
      return c.db.prepare('SELECT source, reason, count(*) AS count FROM rejected_callbacks GROUP BY source, reason ORDER BY source, reason').all() as { source: string; reason: string; count: number }[];
    },
  };
}
