/**
 * Message templates: placeholders `{{pin}}` (also `{code}`, seed 002), `{{ttl}}` (minutes) and `{{app}}`, and the
 * choice of a locale: the request's, then the destination country's language, then the app default.
 */

/** Built-in SMS/WhatsApp texts, used when an app has no template for the message (see services/templates.ts). */
export const BUILTIN_TEMPLATES: Readonly<Record<string, string>> = Object.freeze({
  en: 'Your {{app}} verification code is {{pin}}. It expires in {{ttl}} minutes. Do not share it.',
  fr: 'Votre code de vérification {{app}} est {{pin}}. Il expire dans {{ttl}} minutes. Ne le partagez pas.',
  nl: 'Je {{app}}-verificatiecode is {{pin}}. Hij verloopt over {{ttl}} minuten. Deel hem met niemand.',
  de: 'Ihr {{app}}-Bestätigungscode lautet {{pin}}. Er läuft in {{ttl}} Minuten ab. Geben Sie ihn nicht weiter.',
  es: 'Tu código de verificación de {{app}} es {{pin}}. Caduca en {{ttl}} minutos. No lo compartas.',
  it: 'Il tuo codice di verifica {{app}} è {{pin}}. Scade tra {{ttl}} minuti. Non condividerlo.',
  pt: 'O seu código de verificação {{app}} é {{pin}}. Expira em {{ttl}} minutos. Não o partilhe.',
  tr: '{{app}} doğrulama kodunuz {{pin}}. {{ttl}} dakika içinde geçerliliğini yitirir. Kimseyle paylaşmayın.',
});

// Countries whose numbers default to one language. Multilingual countries (BE, CH, CA, ...) are left out on
// purpose: guessing wrong is worse than the app's default.
const COUNTRY_LANGUAGE: Readonly<Record<string, string>> = Object.freeze({
  FR: 'fr', MC: 'fr', LU: 'fr', NL: 'nl', DE: 'de', AT: 'de', ES: 'es', MX: 'es', AR: 'es', CO: 'es', CL: 'es',
  PE: 'es', IT: 'it', PT: 'pt', BR: 'pt', TR: 'tr', GB: 'en', US: 'en', IE: 'en', AU: 'en', NZ: 'en',
});

export const LOCALE_PATTERN = '^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$';

/**
 * Picks the locale whose template exists: the requested one (or its language part), then the country's
 * language, then the app default, then English.
 * @example chooseLocale({ requested: 'fr-BE', countryIso: 'BE', appDefault: 'en', available: ['en', 'fr'] }) // 'fr'
 */
export function chooseLocale(o: { requested?: string | undefined; countryIso?: string | undefined; appDefault?: string | undefined; available: readonly string[] }): string {
  const has = (l: string | undefined): l is string => l !== undefined && o.available.includes(l);
  const candidates: (string | undefined)[] = [];
  if (o.requested) candidates.push(o.requested.toLowerCase(), o.requested.split('-')[0]?.toLowerCase());
  if (o.countryIso) candidates.push(COUNTRY_LANGUAGE[o.countryIso]);
  candidates.push(o.appDefault?.toLowerCase(), o.appDefault?.split('-')[0]?.toLowerCase(), 'en');
  return candidates.find(has) ?? o.available[0] ?? 'en';
}

export interface TemplateVars {
  pin: string;
  /** Minutes, rounded up. */
  ttlMinutes: number;
  app: string;
}

const PLACEHOLDER = /\{\{\s*(pin|code|ttl|app)\s*\}\}|\{(code|pin)\}/g;

/** True when the template contains a code placeholder; a template without one would send no code. */
export function hasCodePlaceholder(template: string): boolean {
  return /\{\{\s*(pin|code)\s*\}\}|\{(code|pin)\}/.test(template);
}

/** Renders a template. Unknown `{{...}}` are left as they are. */
export function renderTemplate(template: string, v: TemplateVars): string {
  return template.replace(PLACEHOLDER, (_m, a: string | undefined, b: string | undefined) => {
    const name = a ?? b;
    if (name === 'pin' || name === 'code') return v.pin;
    if (name === 'ttl') return String(v.ttlMinutes);
    return v.app;
  });
}

/** Built-in email texts (subject, plain text, HTML body). The SMS text doubles as the plain text part. */
export const BUILTIN_EMAIL_SUBJECTS: Readonly<Record<string, string>> = Object.freeze({
  en: 'Your {{app}} verification code: {{pin}}',
  fr: 'Votre code de vérification {{app}} : {{pin}}',
  nl: 'Je {{app}}-verificatiecode: {{pin}}',
  de: 'Ihr {{app}}-Bestätigungscode: {{pin}}',
  es: 'Tu código de verificación de {{app}}: {{pin}}',
  it: 'Il tuo codice di verifica {{app}}: {{pin}}',
  pt: 'O seu código de verificação {{app}}: {{pin}}',
  tr: '{{app}} doğrulama kodunuz: {{pin}}',
});

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * Subject, text and HTML of a verification email, with `{{pin}}` left in for the worker (codes are ASCII letters
 * and digits, so they need no escaping). Every other value is escaped in the HTML part.
 */
export function renderEmail(locale: string, v: Omit<TemplateVars, 'pin'>): { subject: string; text: string; html: string } {
  const pinVars = { ...v, pin: '{{pin}}' };
  const subject = renderTemplate(BUILTIN_EMAIL_SUBJECTS[locale] ?? BUILTIN_EMAIL_SUBJECTS.en!, pinVars);
  const text = renderTemplate(BUILTIN_TEMPLATES[locale] ?? BUILTIN_TEMPLATES.en!, pinVars);
  const escapedText = renderTemplate(BUILTIN_TEMPLATES[locale] ?? BUILTIN_TEMPLATES.en!, { ...pinVars, app: escapeHtml(v.app) });
  const html = `<!doctype html><html lang="${escapeHtml(locale)}"><body style="font-family:system-ui,sans-serif;color:#111">` +
    `<p>${escapedText.replace('{{pin}}', '<strong style="font-size:28px;letter-spacing:4px">{{pin}}</strong>')}</p></body></html>`;
  return { subject, text, html };
}
