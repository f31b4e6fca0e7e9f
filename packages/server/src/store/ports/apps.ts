/**
 * Apps: the tenants. Each write records its audit entries in the same transaction.
 */
import type { ApiKeyRecord, AppRecord, AuditEntry } from '../../domain/records.js';


export interface AppsPort {
  /** Creates an app with its first API key (and its callback secret, sealed). */
  create(app: AppRecord, key: ApiKeyRecord, audit?: AuditEntry[], callbackSecretSealed?: Buffer): Promise<void>;
  list(): Promise<AppRecord[]>;
  get(id: string): Promise<AppRecord | null>;
  /**
   * Read-modify-write of an app in one transaction: `change` gets the current app and returns the new one and the
   * audit entries to record with it (or throws). Null when the app does not exist.
   */
  update(id: string, change: (before: AppRecord) => { after: AppRecord; audit: AuditEntry[] }): Promise<AppRecord | null>;
  /** Deletes an app and its credentials (its verifications stay until retention removes them). */
  delete(id: string, audit: (before: AppRecord) => AuditEntry[]): Promise<boolean>;
  /** Stores a new sealed callback secret for an app (rotation), with its audit entry; false when the app is unknown. */
  setCallbackSecret(appId: string, sealed: Buffer, audit: AuditEntry[]): Promise<boolean>;
  hasCallbackSecret(appId: string): Promise<boolean>;
}
