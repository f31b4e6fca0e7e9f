/**
 * An app's message configuration: its templates, its sender ids and its provider connections.
 */
import type { AuditEntry, ConnectionRecord, SenderRecord, TemplateRecord } from '../../domain/records.js';


export interface AppConfigPort {
  listSenders(appId: string): Promise<SenderRecord[]>;
  createSender(s: SenderRecord, audit: AuditEntry[]): Promise<void>;
  /** Deletes a sender of the app; false when unknown. */
  deleteSender(appId: string, id: string, audit: (before: SenderRecord) => AuditEntry[]): Promise<boolean>;
  listTemplates(appId: string): Promise<TemplateRecord[]>;
  /** Inserts, replaces (same id) or deletes (`after` null) a template of the app, with its audit entries. */
  saveTemplate(appId: string, id: string, change: (before: TemplateRecord | null) => { after: TemplateRecord | null; audit: AuditEntry[] }): Promise<TemplateRecord | null>;
  /** Every provider connection, of every app and shared (few: each process keeps them all in memory). */
  listConnections(): Promise<ConnectionRecord[]>;
  /**
   * Inserts, replaces (same id) or deletes (`after` null) a connection of `appId` (null: a shared one), with its
   * audit entries; `change` sees the connection as stored (null: none) and every other node hears of it on commit.
   * Throws `conflict` when the name is taken in that scope.
   */
  saveConnection(appId: string | null, id: string, change: (before: ConnectionRecord | null) => { after: ConnectionRecord | null; audit: AuditEntry[] }): Promise<ConnectionRecord | null>;
}
