/**
 * What a provider says (an error message, an error code) is untrusted text that may echo the request otpd sent,
 * code included: HTTP gateways answer with the body they refused, SMTP servers quote the data. Before any of it is
 * stored, logged or returned, `redactProviderText` takes the code out and bounds the rest.
 */

/** What stands where a code was. */
export const CODE_MARKER = '[code]';
/** What stands where a provider credential was. */
export const SECRET_MARKER = '[secret]';

/** A credential as it may appear echoed: as is, percent-encoded (form bodies, URLs), form-encoded, JSON-escaped. */
function secretForms(secret: string): string[] {
  const forms = [secret, encodeURIComponent(secret), new URLSearchParams({ s: secret }).toString().slice(2), JSON.stringify(secret).slice(1, -1)];
  return [...new Set(forms)].sort((a, b) => b.length - a.length);
}

// Control and format characters (newlines, NUL, zero-width and bidi marks), line and paragraph separators.
const CONTROL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;
// What may sit between the characters of a code written out for people or speech: "1 2 3", "123-456", "1.2.3",
// "1, 2, 3". Bounded so matching stays linear; whitespace runs are collapsed to one space before matching.
const SEP = '[\\s.,\\u00b7\\u2022\\u2010-\\u2015\\u2212\\-]{0,4}';
const escape = (c: string) => c.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');

/**
 * `text` with every occurrence of `code` replaced by `[code]`, then bounded to `max` characters:
 *
 * - the code is matched case-insensitively, also with spaces, dashes, dots or commas between its characters;
 * - unless `o.whole` says the text is whole (an error code), a prefix of the code at its very end (two characters
 *   or more, or one starting a word) is redacted too: it is what is left of a code when the text was cut before
 *   it got here (adapters keep the first part of a long answer);
 * - control and invisible characters become spaces, whitespace runs one space, the ends are trimmed;
 * - the text is cut (with "…") only after redaction, so a cut cannot leave part of a code behind.
 *
 * The provider's credentials (`o.secrets`: as is, percent-, form- or JSON-encoded) become `[secret]` first.
 * Without a code (the send failed before it was known) the text is only cleaned and bounded. The result holds
 * no code in any of those forms (up to four separators between two of its characters) and is at most `max`
 * UTF-16 units long, never ending in half a surrogate pair.
 */
export function redactProviderText(text: string, code: string | undefined, max: number, o: { whole?: boolean; secrets?: readonly string[] } = {}): string {
  if (max <= 0) return '';
  // The provider's own credentials, echoed with the request (an api_secret in a form body), go first.
  for (const secret of o.secrets ?? []) {
    if (secret.length < 4) continue;
    for (const form of secretForms(secret)) text = text.replaceAll(form, SECRET_MARKER);
  }
  // Matching is linear but not free: look no further than the output can reach. Once whitespace runs are one
  // space, redaction shrinks a code written out with separators at most ~8 times (10 characters and 9 separator
  // runs into "[code]"), so what lies past 64 times the bound can never reach the output.
  let s = text.replace(CONTROL, ' ').replace(/\s+/gu, ' ').slice(0, Math.max(65_536, max * 64)).trim();
  if (code) {
    const chars = [...code].map(escape);
    const anywhere = new RegExp(chars.join(SEP), 'giu');
    // A code that spells part of the marker ("CODE") must not be reintroduced by it.
    const marker = new RegExp(anywhere.source, 'iu').test(CODE_MARKER) ? '[*]' : CODE_MARKER;
    s = s.replace(anywhere, marker);
    if (!o.whole) {
      // The end of the text: c1 sep c2 (sep c3 (sep c4 ...)?)? sep, or c1 alone at the start of a word. (A lone
      // last character anywhere would redact too many ordinary words.)
      let rest = '';
      for (let i = chars.length - 1; i >= 2; i--) rest = `(?:${SEP}${chars[i]}${rest})?`;
      if (chars.length >= 2) s = s.replace(new RegExp(`${chars[0]}${SEP}${chars[1]}${rest}${SEP}$`, 'iu'), marker);
      s = s.replace(new RegExp(`(?<![\\p{L}\\p{N}])${chars[0]}$`, 'iu'), marker);
    }
  }
  if (s.length <= max) return s;
  let end = Math.max(0, max - 1);
  const last = s.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--; // do not split a surrogate pair
  return `${s.slice(0, end)}…`;
}
