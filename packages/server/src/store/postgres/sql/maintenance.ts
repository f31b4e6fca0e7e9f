/** The statements of maintenance.ts (retention's are built from `RETAINED`). */
export const MAINTENANCE_SQL = {
  idemPurge: `DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(SELECT ctid FROM idempotency_keys WHERE expires_at <= $1 LIMIT $2))`,
} as const;
