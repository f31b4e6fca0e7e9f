/**
 * Development inbox: what the console channel "sent", kept in memory so a developer (and the benchmark) can read
 * codes without a phone. Never used in production; never persisted, so codes stay out of the database.
 */
import type { Channel } from '../domain/policy.js';

export interface DevMessage {
  id: string;
  appId: string;
  verificationId: string;
  to: string;
  channel: Channel;
  text: string;
  code: string;
  createdAt: string;
}

/** Bounded: at most `perRecipient` messages per (app, recipient), and `maxRecipients` recipients (oldest dropped). */
export class DevInbox {
  private readonly byRecipient = new Map<string, DevMessage[]>();
  private readonly recent: DevMessage[] = [];

  constructor(private readonly perRecipient = 20, private readonly maxRecipients = 200_000, private readonly recentMax = 200) {}

  /** Records a message; newest first per recipient. */
  add(m: DevMessage): void {
    const k = `${m.appId}\u0000${m.to}`;
    let list = this.byRecipient.get(k);
    if (!list) {
      if (this.byRecipient.size >= this.maxRecipients) {
        const oldest = this.byRecipient.keys().next().value;
        if (oldest !== undefined) this.byRecipient.delete(oldest);
      }
      list = [];
      this.byRecipient.set(k, list);
    }
    list.unshift(m);
    if (list.length > this.perRecipient) list.length = this.perRecipient;
    this.recent.unshift(m);
    if (this.recent.length > this.recentMax) this.recent.length = this.recentMax;
  }

  /** Messages of one app, newest first, for one recipient or for all. */
  list(appId: string, to: string | undefined, limit: number): DevMessage[] {
    if (to !== undefined) return (this.byRecipient.get(`${appId}\u0000${to}`) ?? []).slice(0, limit);
    return this.recent.filter((m) => m.appId === appId).slice(0, limit);
  }
}
