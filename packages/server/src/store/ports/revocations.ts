/**
 * Revoked sessions: a dashboard session signed out before its end (the sessions themselves are stateless tokens).
 * Kept until the session would have ended; every node reads it, so a sign-out is one everywhere at once.
 */
export interface RevocationsPort {
  /** Revokes a session id until `expiresAt` (epoch ms). */
  revoke(id: string, expiresAt: number): Promise<void>;
  /** Whether a session id was revoked. */
  isRevoked(id: string): Promise<boolean>;
  /** Forgets revocations whose sessions have ended; returns how many. */
  purge(now: number): Promise<number>;
}
