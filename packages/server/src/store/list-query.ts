/**
 * The filters of the list endpoints, written once for both adapters: conditions with `?` placeholders and their
 * values in order (SQLite binds them as they are; PostgreSQL numbers them with `numbered`).
 */
import type { DeliveryStatus } from '../domain/records.js';
import type { ListQuery } from './ports/index.js';

export interface Where { conds: string[]; values: unknown[] }

/**
 * A verification list. The status filter is the one a reader sees (`effectiveStatus`): `pending` means not yet
 * expired, `expired` includes pending verifications whose time ran out. Newest first by id.
 */
export function verificationsWhere(appId: string, q: ListQuery, now: number): Where {
  const w: Where = { conds: ['app_id = ?'], values: [appId] };
  if (q.to !== undefined) add(w, 'to_addr = ?', q.to);
  if (q.before !== undefined) add(w, 'id < ?', q.before);
  if (q.status === 'expired') add(w, `(status = 'expired' OR (status = 'pending' AND expires_at <= ?))`, now);
  else if (q.status === 'pending') add(w, `status = 'pending' AND expires_at > ?`, now);
  else if (q.status !== undefined) add(w, 'status = ?', q.status);
  return w;
}

export function deliveriesWhere(appId: string, q: { endpointId?: string | undefined; status?: DeliveryStatus | undefined; before?: string | undefined }): Where {
  const w: Where = { conds: ['app_id = ?'], values: [appId] };
  if (q.endpointId !== undefined) add(w, 'endpoint_id = ?', q.endpointId);
  if (q.status !== undefined) add(w, 'status = ?', q.status);
  if (q.before !== undefined) add(w, 'id < ?', q.before);
  return w;
}

export function auditWhere(q: { appId?: string | undefined; targetId?: string | undefined; before?: string | undefined }): Where {
  const w: Where = { conds: [], values: [] };
  if (q.appId !== undefined) add(w, 'app_id = ?', q.appId);
  if (q.targetId !== undefined) add(w, 'target_id = ?', q.targetId);
  if (q.before !== undefined) add(w, 'id < ?', q.before);
  return w;
}

function add(w: Where, cond: string, value: unknown): void {
  w.conds.push(cond);
  w.values.push(value);
}

/** `SELECT * FROM table WHERE … ORDER BY id DESC LIMIT ?` with the limit as the last value. */
export function newestFirst(table: string, w: Where, limit: number): { sql: string; values: unknown[] } {
  return { sql: `SELECT * FROM ${table}${w.conds.length ? ` WHERE ${w.conds.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`, values: [...w.values, limit] };
}

/** `?` placeholders numbered `$1, $2, …` (PostgreSQL). The conditions here hold no `?` of their own. */
export function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}
