/**
 * An app's message configuration: its templates and its sender ids.
 */
import type { AuditEntry, SenderRecord, TemplateRecord } from '../../domain/records.js';


export interface AppConfigPort {
  listSenders(appId: string): Promise<SenderRecord[]>;
  createSender(s: SenderRecord, audit: AuditEntry[]): Promise<void>;
  /** Deletes a sender of the app; false when unknown. */
  deleteSender(appId: string, id: string, audit: (before: SenderRecord) => AuditEntry[]): Promise<boolean>;
  listTemplates(appId: string): Promise<TemplateRecord[]>;
  /** Inserts, replaces (same id) or deletes (`after` null) a template of the app, with its audit entries. */
  saveTemplate(appId: string, id: string, change: (before: TemplateRecord | null) => { after: TemplateRecord | null; audit: AuditEntry[] }): Promise<TemplateRecord | null>;
}
