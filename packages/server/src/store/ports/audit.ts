/**
 * The audit log: every admin change, written by the change's own transaction (see each port's `audit` arguments).
 */
import type { AuditEntry } from '../../domain/records.js';


export interface AuditPort {
  list(q: { appId?: string | undefined; targetId?: string | undefined; limit: number; before?: string | undefined }): Promise<AuditEntry[]>;
}
