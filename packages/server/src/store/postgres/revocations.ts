/** Revoked dashboard sessions (see the port). */
import type { RevocationsPort } from '../ports/index.js';
import type { Db } from './connection.js';

export class PgRevocations implements RevocationsPort {
  constructor(private readonly db: Db) {}

  async revoke(id: string, expiresAt: number): Promise<void> {
    await this.db.read('revPut', [id, expiresAt]);
  }

  async isRevoked(id: string): Promise<boolean> {
    return (await this.db.read('revGet', [id])).length > 0;
  }

  async purge(now: number): Promise<number> {
    return Number((await this.db.read('revPurge', [now]))[0]?.n ?? 0);
  }
}
