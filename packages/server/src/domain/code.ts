/**
 * One-time codes: generation from the CSPRNG, the stored HMAC, the constant-time comparison, and the sealed
 * (encrypted) copy that lets a resend or a fallback step deliver the same code without ever storing it in clear.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomFillSync, randomInt, timingSafeEqual } from 'node:crypto';
import type { CodeType } from './policy.js';
import { OtpdError } from './errors.js';

/** Alphabets. Alphanumeric leaves out look-alikes (0/O, 1/I/L) so a code read aloud or on a small screen survives. */
export const ALPHABETS: Readonly<Record<CodeType, string>> = Object.freeze({
  numeric: '0123456789',
  alpha: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  alphanumeric: '23456789ABCDEFGHJKMNPQRSTUVWXYZ',
});

/** A fresh code of `length` characters drawn uniformly from the alphabet with `crypto.randomInt`. */
export function generateCode(type: CodeType, length: number): string {
  const alphabet = ALPHABETS[type];
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

/**
 * Normalises what a user typed into the form codes are generated in. Only ASCII letters and digits are codes:
 * anything else (unicode digits, spaces inside, symbols, empty) is `invalid_code` and costs no try.
 * Surrounding whitespace is trimmed, letters upper-cased (codes are case-insensitive).
 */
export function normalizeCode(input: string): string {
  const s = input.trim();
  if (!/^[A-Za-z0-9]{4,10}$/.test(s)) {
    throw new OtpdError('invalid_code', 'A code is 4 to 10 ASCII letters or digits');
  }
  return s.toUpperCase();
}

/** Keys derived from the server secret; the HMAC key is the secret itself (HMAC-SHA256(secret, id ‖ code)). */
export interface CodeKeys {
  hmacKey: Buffer;
  sealKey: Buffer;
  /** Signs the token in receipt callback URLs (HKDF-separated). */
  callbackKey: Buffer;
  /** Signs OAuth access tokens (HKDF-separated). */
  tokenKey: Buffer;
}

/** Derives the keys once at start-up. The sealing key is HKDF-separated from the HMAC key. */
export function deriveKeys(secret: string | Buffer): CodeKeys {
  const hmacKey = Buffer.isBuffer(secret) ? secret : Buffer.from(secret, 'utf8');
  const sealKey = Buffer.from(hkdfSync('sha256', hmacKey, Buffer.alloc(0), 'otpd/code-seal/v1', 32));
  const callbackKey = Buffer.from(hkdfSync('sha256', hmacKey, Buffer.alloc(0), 'otpd/callback/v1', 32));
  const tokenKey = Buffer.from(hkdfSync('sha256', hmacKey, Buffer.alloc(0), 'otpd/oauth-token/v1', 32));
  return { hmacKey, sealKey, callbackKey, tokenKey };
}

/**
 * HMAC-SHA256(secret, verificationId ‖ code [‖ binding]): the only form in which a code is compared. `binding` ties the
 * code to what the user was shown (PSD2 dynamic linking: the amount and the payee, see `paymentBinding`): the code
 * then matches only with the same binding.
 */
export function hashCode(keys: CodeKeys, verificationId: string, code: string, binding: string | null = null): Buffer {
  return createHmac('sha256', keys.hmacKey).update(binding === null ? `${verificationId}\u0000${code}` : `${verificationId}\u0000${code}\u0000${binding}`).digest();
}

/** The binding of a payment's amount and payee (PSD2 dynamic linking), or null when neither is given. */
export function paymentBinding(p: { amount?: string | undefined; payee?: string | undefined }): string | null {
  return p.amount === undefined && p.payee === undefined ? null : JSON.stringify(['psd2', p.amount ?? null, p.payee ?? null]);
}

/** Constant-time equality of two secrets (a length difference is not hidden: lengths are public here). */
export function constantTimeEqual(a: string | Uint8Array, b: string | Uint8Array): boolean {
  const x = typeof a === 'string' ? Buffer.from(a) : a;
  const y = typeof b === 'string' ? Buffer.from(b) : b;
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Constant-time comparison of a candidate code against the stored HMAC. */
export function codeMatches(keys: CodeKeys, verificationId: string, candidate: string, stored: Uint8Array, binding: string | null = null): boolean {
  return constantTimeEqual(hashCode(keys, verificationId, candidate, binding), stored);
}

// GCM nonces: 96 random bits each, drawn from the CSPRNG a block at a time (one randomBytes call per code cost
// as much as the encryption). Each is copied out and its bytes are never handed out twice.
const IV_POOL = Buffer.allocUnsafe(12 * 256);
let ivOffset = IV_POOL.length;
function nextIv(): Buffer {
  if (ivOffset === IV_POOL.length) {
    randomFillSync(IV_POOL);
    ivOffset = 0;
  }
  const iv = Buffer.from(IV_POOL.subarray(ivOffset, ivOffset + 12));
  ivOffset += 12;
  return iv;
}

/**
 * Encrypts the code (AES-256-GCM, the verification id as associated data) so the delivery worker can render it
 * for a resend or a fallback step. The ciphertext is wiped when the verification leaves `pending`.
 */
export function sealCode(keys: CodeKeys, verificationId: string, code: string): Buffer {
  const iv = nextIv();
  const c = createCipheriv('aes-256-gcm', keys.sealKey, iv);
  c.setAAD(Buffer.from(verificationId));
  const body = Buffer.concat([c.update(code, 'utf8'), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), body]);
}

/** Decrypts a sealed code; throws if it was tampered with or sealed for another verification. */
export function openCode(keys: CodeKeys, verificationId: string, sealed: Uint8Array): string {
  const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const d = createDecipheriv('aes-256-gcm', keys.sealKey, buf.subarray(0, 12));
  d.setAAD(Buffer.from(verificationId));
  d.setAuthTag(buf.subarray(12, 28));
  return Buffer.concat([d.update(buf.subarray(28)), d.final()]).toString('utf8');
}

/**
 * Token carried in the receipt URL otpd gives a provider for one message: only the provider that was told the URL
 * can call it back for that message, even when the provider does not sign its callbacks.
 */
export function callbackToken(keys: CodeKeys, provider: string, messageId: string): string {
  return createHmac('sha256', keys.callbackKey).update(`${provider}\u0000${messageId}`).digest('base64url').slice(0, 32);
}

/** Constant-time check of a receipt URL token. */
export function callbackTokenValid(keys: CodeKeys, provider: string, messageId: string, token: string | null | undefined): boolean {
  return !!token && constantTimeEqual(callbackToken(keys, provider, messageId), token);
}
