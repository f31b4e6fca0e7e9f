/**
 * Phone numbers: E.164 normalisation, mobile-only validation (libphonenumber-js with full metadata) and the
 * per-app country allow/deny lists.
 */
import { parsePhoneNumberFromString, type NumberType } from 'libphonenumber-js/max';
import { OtpdError } from './errors.js';

export interface Phone {
  /** E.164, e.g. +33612345678 */
  e164: string;
  /** ISO 3166-1 alpha-2, e.g. FR */
  countryIso: string;
}

// Types that can receive an SMS or a WhatsApp message. Where a country's plan cannot tell mobile from fixed line
// (US, CA, ...) libphonenumber answers FIXED_LINE_OR_MOBILE, which we must accept.
const MOBILE_TYPES: ReadonlySet<NumberType> = new Set<NumberType>(['MOBILE', 'FIXED_LINE_OR_MOBILE']);

/**
 * Parses an international number (leading +) and requires a valid mobile number.
 * @example parsePhone('+33 6 12 34 56 78') // { e164: '+33612345678', countryIso: 'FR' }
 */
export function parsePhone(input: string): Phone {
  if (input.length > 32 || !/^\s*\+/.test(input)) {
    throw new OtpdError('invalid_phone_number', 'Give the number in international format, starting with + and the country code');
  }
  const p = parsePhoneNumberFromString(input);
  const invalid = () => new OtpdError('invalid_phone_number', `${JSON.stringify(input)} is not a valid phone number`);
  if (!p || !p.country) throw invalid();
  // A type is only found for a valid number (with full metadata `isValid()` is "has a type", so asking both
  // classified the number twice); without one, `isValid()` tells an invalid number from one of unknown type.
  const type = p.getType();
  if (!type && !p.isValid()) throw invalid();
  if (!type || !MOBILE_TYPES.has(type)) {
    throw new OtpdError('invalid_phone_number', `${p.number} is not a mobile number (${(type ?? 'unknown type').toLowerCase()})`);
  }
  return { e164: p.number, countryIso: p.country };
}

/** Applies the app's lists: a deny list always wins; a non-empty allow list admits only its countries. */
export function assertCountryAllowed(countryIso: string, allowed?: readonly string[], denied?: readonly string[]): void {
  if (denied?.includes(countryIso) || (allowed && allowed.length > 0 && !allowed.includes(countryIso))) {
    throw new OtpdError('country_not_allowed', `Numbers in ${countryIso} are not allowed for this app`);
  }
}

export interface Email {
  /** The address with its domain lower-cased. */
  address: string;
}

// Practical address check (RFC 5321 limits, one @, a dotted domain, no spaces or control characters); whether
// the mailbox exists is only known by delivering to it.
const EMAIL = /^[^\s@"<>()[\]\\,;:]{1,64}@(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

/**
 * Validates an email address for the email channel.
 * @example parseEmail('Ada@Example.COM') // { address: 'Ada@example.com' }
 */
export function parseEmail(input: string): Email {
  const s = input.trim();
  const at = s.lastIndexOf('@');
  if (s.length > 254 || at < 1 || !EMAIL.test(s)) {
    throw new OtpdError('invalid_email', `${JSON.stringify(input.slice(0, 80))} is not a valid email address`);
  }
  return { address: `${s.slice(0, at)}@${s.slice(at + 1).toLowerCase()}` };
}
