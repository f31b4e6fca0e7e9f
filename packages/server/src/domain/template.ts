/**
 * Message texts: the built-in ones in 29 languages with their plural forms, placeholders `{{pin}}` (also `{code}`,
 * seed 002), `{{ttl}}` (minutes) and `{{app}}`, and the choice of a locale: the request's, then the destination
 * country's language, then the app default.
 */

/**
 * A built-in text in one language: its forms per plural category of the expiry in minutes (`Intl.PluralRules`, CLDR
 * cardinal categories; `other` always), and the email subject. A form may leave out `{{ttl}}` where the language
 * says the number in the word (Arabic "دقيقتين", two minutes).
 */
interface BuiltinText {
  sms: Partial<Record<Intl.LDMLPluralRule, string>> & { other: string };
  subject: string;
}

/**
 * Built-in SMS texts (also the plain text of emails) and email subjects of the large OTP markets' languages, used
 * when an app has no template for the message (see services/templates.ts). Each says the brand, the code, the
 * expiry and not to share it, as shortly as the language allows (non-Latin scripts go out as UCS-2: 70 characters a
 * part).
 */
const BUILTIN: Readonly<Record<string, BuiltinText>> = Object.freeze({
  en: {
    sms: { one: 'Your {{app}} verification code is {{pin}}. It expires in {{ttl}} minute. Do not share it.', other: 'Your {{app}} verification code is {{pin}}. It expires in {{ttl}} minutes. Do not share it.' },
    subject: 'Your {{app}} verification code: {{pin}}',
  },
  fr: {
    sms: { one: 'Votre code de vérification {{app}} est {{pin}}. Il expire dans {{ttl}} minute. Ne le partagez pas.', other: 'Votre code de vérification {{app}} est {{pin}}. Il expire dans {{ttl}} minutes. Ne le partagez pas.' },
    subject: 'Votre code de vérification {{app}} : {{pin}}',
  },
  de: {
    sms: { one: 'Ihr {{app}}-Bestätigungscode lautet {{pin}}. Er läuft in {{ttl}} Minute ab. Geben Sie ihn nicht weiter.', other: 'Ihr {{app}}-Bestätigungscode lautet {{pin}}. Er läuft in {{ttl}} Minuten ab. Geben Sie ihn nicht weiter.' },
    subject: 'Ihr {{app}}-Bestätigungscode: {{pin}}',
  },
  es: {
    sms: { one: 'Tu código de {{app}} es {{pin}}. Caduca en {{ttl}} minuto. No lo compartas.', other: 'Tu código de {{app}} es {{pin}}. Caduca en {{ttl}} minutos. No lo compartas.' },
    subject: 'Tu código de verificación de {{app}}: {{pin}}',
  },
  it: {
    sms: { one: 'Il tuo codice di verifica {{app}} è {{pin}}. Scade tra {{ttl}} minuto. Non condividerlo.', other: 'Il tuo codice di verifica {{app}} è {{pin}}. Scade tra {{ttl}} minuti. Non condividerlo.' },
    subject: 'Il tuo codice di verifica {{app}}: {{pin}}',
  },
  pt: {
    sms: { one: 'O seu código {{app}} é {{pin}}. Expira em {{ttl}} minuto. Não o partilhe.', other: 'O seu código {{app}} é {{pin}}. Expira em {{ttl}} minutos. Não o partilhe.' },
    subject: 'O seu código de verificação {{app}}: {{pin}}',
  },
  nl: {
    sms: { one: 'Je {{app}}-verificatiecode is {{pin}}. Hij verloopt over {{ttl}} minuut. Deel hem met niemand.', other: 'Je {{app}}-verificatiecode is {{pin}}. Hij verloopt over {{ttl}} minuten. Deel hem met niemand.' },
    subject: 'Je {{app}}-verificatiecode: {{pin}}',
  },
  tr: {
    sms: { other: '{{app}} kodunuz: {{pin}}. {{ttl}} dakika geçerlidir. Kimseyle paylaşmayın.' },
    subject: '{{app}} doğrulama kodunuz: {{pin}}',
  },
  pl: {
    sms: {
      one: 'Kod {{app}}: {{pin}}. Ważny przez {{ttl}} minutę. Nie udostępniaj go nikomu.',
      few: 'Kod {{app}}: {{pin}}. Ważny przez {{ttl}} minuty. Nie udostępniaj go nikomu.',
      many: 'Kod {{app}}: {{pin}}. Ważny przez {{ttl}} minut. Nie udostępniaj go nikomu.',
      other: 'Kod {{app}}: {{pin}}. Ważny przez {{ttl}} minuty. Nie udostępniaj go nikomu.',
    },
    subject: 'Twój kod weryfikacyjny {{app}}: {{pin}}',
  },
  ru: {
    sms: {
      one: 'Код {{app}}: {{pin}}. Действует {{ttl}} минуту. Никому его не сообщайте.',
      few: 'Код {{app}}: {{pin}}. Действует {{ttl}} минуты. Никому его не сообщайте.',
      many: 'Код {{app}}: {{pin}}. Действует {{ttl}} минут. Никому его не сообщайте.',
      other: 'Код {{app}}: {{pin}}. Действует {{ttl}} минуты. Никому его не сообщайте.',
    },
    subject: 'Ваш код подтверждения {{app}}: {{pin}}',
  },
  uk: {
    sms: {
      one: 'Код {{app}}: {{pin}}. Дійсний {{ttl}} хвилину. Нікому його не повідомляйте.',
      few: 'Код {{app}}: {{pin}}. Дійсний {{ttl}} хвилини. Нікому його не повідомляйте.',
      many: 'Код {{app}}: {{pin}}. Дійсний {{ttl}} хвилин. Нікому його не повідомляйте.',
      other: 'Код {{app}}: {{pin}}. Дійсний {{ttl}} хвилини. Нікому його не повідомляйте.',
    },
    subject: 'Ваш код підтвердження {{app}}: {{pin}}',
  },
  ro: {
    sms: {
      one: 'Codul {{app}}: {{pin}}. Expiră în {{ttl}} minut. Nu îl da nimănui.',
      few: 'Codul {{app}}: {{pin}}. Expiră în {{ttl}} minute. Nu îl da nimănui.',
      other: 'Codul {{app}}: {{pin}}. Expiră în {{ttl}} de minute. Nu îl da nimănui.',
    },
    subject: 'Codul tău de verificare {{app}}: {{pin}}',
  },
  cs: {
    sms: {
      one: 'Kód {{app}}: {{pin}}. Platí {{ttl}} minutu. Nikomu ho nesdělujte.',
      few: 'Kód {{app}}: {{pin}}. Platí {{ttl}} minuty. Nikomu ho nesdělujte.',
      many: 'Kód {{app}}: {{pin}}. Platí {{ttl}} minuty. Nikomu ho nesdělujte.',
      other: 'Kód {{app}}: {{pin}}. Platí {{ttl}} minut. Nikomu ho nesdělujte.',
    },
    subject: 'Váš ověřovací kód {{app}}: {{pin}}',
  },
  sv: {
    sms: { one: 'Din verifieringskod för {{app}} är {{pin}}. Den går ut om {{ttl}} minut. Dela den inte med någon.', other: 'Din verifieringskod för {{app}} är {{pin}}. Den går ut om {{ttl}} minuter. Dela den inte med någon.' },
    subject: 'Din verifieringskod för {{app}}: {{pin}}',
  },
  ar: {
    sms: {
      zero: 'رمز التحقق في {{app}}: {{pin}}. صالح لمدة {{ttl}} دقيقة. لا تشاركه مع أحد.',
      one: 'رمز التحقق في {{app}}: {{pin}}. صالح لمدة دقيقة واحدة. لا تشاركه مع أحد.',
      two: 'رمز التحقق في {{app}}: {{pin}}. صالح لمدة دقيقتين. لا تشاركه مع أحد.',
      few: 'رمز التحقق في {{app}}: {{pin}}. صالح لمدة {{ttl}} دقائق. لا تشاركه مع أحد.',
      many: 'رمز التحقق في {{app}}: {{pin}}. صالح لمدة {{ttl}} دقيقة. لا تشاركه مع أحد.',
      other: 'رمز التحقق في {{app}}: {{pin}}. صالح لمدة {{ttl}} دقيقة. لا تشاركه مع أحد.',
    },
    subject: 'رمز التحقق الخاص بك في {{app}}: {{pin}}',
  },
  he: {
    sms: {
      one: 'קוד האימות של {{app}}: {{pin}}. בתוקף לדקה אחת. אל תמסרו אותו לאיש.',
      two: 'קוד האימות של {{app}}: {{pin}}. בתוקף לשתי דקות. אל תמסרו אותו לאיש.',
      other: 'קוד האימות של {{app}}: {{pin}}. בתוקף ל-{{ttl}} דקות. אל תמסרו אותו לאיש.',
    },
    subject: 'קוד האימות שלך ב-{{app}}: {{pin}}',
  },
  fa: {
    sms: { other: 'کد تأیید {{app}}: {{pin}}. تا {{ttl}} دقیقه معتبر است. آن را به کسی ندهید.' },
    subject: 'کد تأیید {{app}} شما: {{pin}}',
  },
  hi: {
    sms: { other: '{{app}} सत्यापन कोड: {{pin}}। {{ttl}} मिनट तक मान्य। किसी को न बताएं।' },
    subject: 'आपका {{app}} सत्यापन कोड: {{pin}}',
  },
  bn: {
    sms: { other: '{{app}} যাচাই কোড: {{pin}}। {{ttl}} মিনিট বৈধ। কাউকে জানাবেন না।' },
    subject: 'আপনার {{app}} যাচাইকরণ কোড: {{pin}}',
  },
  ur: {
    sms: { other: '{{app}} تصدیقی کوڈ: {{pin}}۔ {{ttl}} منٹ تک درست ہے۔ کسی کو نہ بتائیں۔' },
    subject: 'آپ کا {{app}} تصدیقی کوڈ: {{pin}}',
  },
  id: {
    sms: { other: 'Kode verifikasi {{app}} Anda adalah {{pin}}. Berlaku selama {{ttl}} menit. Jangan berikan kepada siapa pun.' },
    subject: 'Kode verifikasi {{app}} Anda: {{pin}}',
  },
  ms: {
    sms: { other: 'Kod pengesahan {{app}} anda ialah {{pin}}. Tamat tempoh dalam {{ttl}} minit. Jangan kongsi dengan sesiapa.' },
    subject: 'Kod pengesahan {{app}} anda: {{pin}}',
  },
  vi: {
    sms: { other: 'Mã xác minh {{app}}: {{pin}}. Hết hạn sau {{ttl}} phút. Không chia sẻ mã này.' },
    subject: 'Mã xác minh {{app}} của bạn: {{pin}}',
  },
  th: {
    sms: { other: 'รหัสยืนยัน {{app}}: {{pin}} ใช้ได้ {{ttl}} นาที ห้ามบอกรหัสนี้กับผู้อื่น' },
    subject: 'รหัสยืนยัน {{app}} ของคุณ: {{pin}}',
  },
  zh: {
    sms: { other: '您的{{app}}验证码是{{pin}}，{{ttl}}分钟内有效。请勿告诉他人。' },
    subject: '您的{{app}}验证码：{{pin}}',
  },
  ja: {
    sms: { other: '{{app}}の確認コードは{{pin}}です。有効期限は{{ttl}}分です。他の人に教えないでください。' },
    subject: '{{app}}の確認コード：{{pin}}',
  },
  ko: {
    sms: { other: '{{app}} 인증 코드는 {{pin}}입니다. {{ttl}}분 후 만료됩니다. 다른 사람과 공유하지 마세요.' },
    subject: '{{app}} 인증 코드: {{pin}}',
  },
  tl: {
    sms: { other: 'Ang iyong {{app}} verification code ay {{pin}}. Mag-e-expire ito sa loob ng {{ttl}} minuto. Huwag itong ibigay kaninuman.' },
    subject: 'Ang iyong {{app}} verification code: {{pin}}',
  },
  sw: {
    sms: { other: 'Nambari yako ya uthibitisho ya {{app}} ni {{pin}}. Itaisha baada ya dakika {{ttl}}. Usimpe mtu yeyote.' },
    subject: 'Nambari yako ya uthibitisho ya {{app}}: {{pin}}',
  },
});

/**
 * PSD2 dynamic linking: the clause that tells what a code approves, put before the built-in text when a start gives
 * an amount and a payee (each text also takes `{{amount}}` and `{{payee}}` in an app's own templates).
 */
const PAYMENT: Readonly<Record<string, string>> = Object.freeze({
  en: 'Payment of {{amount}} to {{payee}}.', fr: 'Paiement de {{amount}} à {{payee}}.', de: 'Zahlung von {{amount}} an {{payee}}.',
  es: 'Pago de {{amount}} a {{payee}}.', it: 'Pagamento di {{amount}} a {{payee}}.', pt: 'Pagamento de {{amount}} a {{payee}}.',
  nl: 'Betaling van {{amount}} aan {{payee}}.', tr: '{{payee}} alıcısına {{amount}} ödeme.', pl: 'Płatność {{amount}} dla {{payee}}.',
  ru: 'Оплата {{amount}} получателю {{payee}}.', uk: 'Оплата {{amount}} отримувачу {{payee}}.', ro: 'Plată de {{amount}} către {{payee}}.',
  cs: 'Platba {{amount}} pro {{payee}}.', sv: 'Betalning på {{amount}} till {{payee}}.', ar: 'دفع {{amount}} إلى {{payee}}.',
  he: 'תשלום של {{amount}} ל-{{payee}}.', fa: 'پرداخت {{amount}} به {{payee}}.', hi: '{{payee}} को {{amount}} का भुगतान।',
  bn: '{{payee}}-কে {{amount}} পেমেন্ট।', ur: '{{payee}} کو {{amount}} کی ادائیگی۔', id: 'Pembayaran {{amount}} kepada {{payee}}.',
  ms: 'Bayaran {{amount}} kepada {{payee}}.', vi: 'Thanh toán {{amount}} cho {{payee}}.', th: 'ชำระเงิน {{amount}} ให้ {{payee}}',
  zh: '向{{payee}}支付{{amount}}。', ja: '{{payee}}への{{amount}}のお支払い。', ko: '{{payee}}에 {{amount}} 결제.',
  tl: 'Bayad na {{amount}} sa {{payee}}.', sw: 'Malipo ya {{amount}} kwa {{payee}}.',
});

/** The payment clause of a language (English when it has none). */
export const paymentClause = (locale: string): string => PAYMENT[locale] ?? PAYMENT.en!;

/**
 * A payment's text says what its code approves: one that does not show both `{{amount}}` and `{{payee}}` (an app's
 * template) is preceded by the language's clause (`wrap` puts it in the text's markup, e.g. an HTML paragraph).
 */
export function withPayment(text: string, locale: string, payment: boolean, wrap: (clause: string) => string = (c) => `${c} `): string {
  if (!payment || (/\{\{\s*amount\s*\}\}/.test(text) && /\{\{\s*payee\s*\}\}/.test(text))) return text;
  return `${wrap(paymentClause(locale))}${text}`;
}

/** Built-in voice texts: said in the call's language, the code (read digit by digit) twice. */
const VOICE: Readonly<Record<string, string>> = Object.freeze({
  en: 'Your {{app}} verification code is {{pin}}. Again, your code is {{pin}}.',
  fr: 'Votre code de vérification {{app}} est {{pin}}. Je répète, votre code est {{pin}}.',
  de: 'Ihr {{app}}-Bestätigungscode lautet {{pin}}. Ich wiederhole: {{pin}}.',
  es: 'Tu código de verificación de {{app}} es {{pin}}. Repito, tu código es {{pin}}.',
  it: 'Il tuo codice di verifica {{app}} è {{pin}}. Ripeto, il tuo codice è {{pin}}.',
  pt: 'O seu código de verificação {{app}} é {{pin}}. Repito, o seu código é {{pin}}.',
  nl: 'Je {{app}}-verificatiecode is {{pin}}. Ik herhaal: {{pin}}.',
  tr: '{{app}} doğrulama kodunuz {{pin}}. Tekrar ediyorum: {{pin}}.',
  pl: 'Twój kod weryfikacyjny {{app}} to {{pin}}. Powtarzam: {{pin}}.',
  ru: 'Ваш код подтверждения {{app}}: {{pin}}. Повторяю: {{pin}}.',
  uk: 'Ваш код підтвердження {{app}}: {{pin}}. Повторюю: {{pin}}.',
  ro: 'Codul tău de verificare {{app}} este {{pin}}. Repet: {{pin}}.',
  cs: 'Váš ověřovací kód {{app}} je {{pin}}. Opakuji: {{pin}}.',
  sv: 'Din verifieringskod för {{app}} är {{pin}}. Jag upprepar: {{pin}}.',
  ar: 'رمز التحقق الخاص بك في {{app}} هو {{pin}}. أكرر: {{pin}}.',
  he: 'קוד האימות שלך ב-{{app}} הוא {{pin}}. אני חוזר: {{pin}}.',
  fa: 'کد تأیید {{app}} شما {{pin}} است. تکرار می‌کنم: {{pin}}.',
  hi: 'आपका {{app}} सत्यापन कोड {{pin}} है। फिर से: {{pin}}।',
  bn: 'আপনার {{app}} যাচাই কোড {{pin}}। আবার বলছি: {{pin}}।',
  ur: 'آپ کا {{app}} تصدیقی کوڈ {{pin}} ہے۔ دوبارہ: {{pin}}۔',
  id: 'Kode verifikasi {{app}} Anda adalah {{pin}}. Sekali lagi: {{pin}}.',
  ms: 'Kod pengesahan {{app}} anda ialah {{pin}}. Sekali lagi: {{pin}}.',
  vi: 'Mã xác minh {{app}} của bạn là {{pin}}. Nhắc lại: {{pin}}.',
  th: 'รหัสยืนยัน {{app}} ของคุณคือ {{pin}} ขอย้ำอีกครั้ง {{pin}}',
  zh: '您的{{app}}验证码是{{pin}}。重复一遍：{{pin}}。',
  ja: '{{app}}の確認コードは{{pin}}です。繰り返します。{{pin}}。',
  ko: '{{app}} 인증 코드는 {{pin}}입니다. 다시 한 번, {{pin}}.',
  tl: 'Ang iyong {{app}} verification code ay {{pin}}. Uulitin ko: {{pin}}.',
  sw: 'Nambari yako ya uthibitisho ya {{app}} ni {{pin}}. Narudia: {{pin}}.',
});

/** The built-in voice text of a language (English when it has none); with `payment`, what the code approves first. */
export function builtinVoice(locale: string, payment = false): string {
  const text = VOICE[locale] ?? VOICE.en!;
  return withPayment(text, locale, payment);
}

/** The languages with built-in texts. */
export const BUILTIN_LOCALES: readonly string[] = Object.freeze(Object.keys(BUILTIN));

const plurals = new Map<string, Intl.PluralRules>();

/**
 * The built-in SMS text of a language (English when it has none) for an expiry of `ttlMinutes`, in its plural form;
 * with `payment`, what the code approves first (PSD2 dynamic linking).
 */
export function builtinText(locale: string, ttlMinutes: number, payment = false): string {
  const lang = BUILTIN[locale] ? locale : 'en';
  let rules = plurals.get(lang);
  if (!rules) plurals.set(lang, (rules = new Intl.PluralRules(lang)));
  const forms = BUILTIN[lang]!.sms;
  const text = forms[rules.select(ttlMinutes)] ?? forms.other;
  return withPayment(text, lang, payment);
}

/** The built-in email subject of a language (English when it has none). */
export const builtinSubject = (locale: string): string => (BUILTIN[locale] ?? BUILTIN.en!).subject;

// Countries whose numbers default to one language. Multilingual countries (BE, CH, CA, IN, ...) and those whose
// written language is not the one here (TW and HK write traditional Chinese) are left out on purpose: guessing wrong
// is worse than the app's default.
const COUNTRY_LANGUAGE: Readonly<Record<string, string>> = Object.freeze({
  FR: 'fr', MC: 'fr', LU: 'fr', SN: 'fr', CI: 'fr', NL: 'nl', DE: 'de', AT: 'de', ES: 'es', MX: 'es', AR: 'es', CO: 'es', CL: 'es',
  PE: 'es', VE: 'es', EC: 'es', GT: 'es', CU: 'es', BO: 'es', DO: 'es', HN: 'es', PY: 'es', SV: 'es', NI: 'es', CR: 'es', PA: 'es', UY: 'es',
  IT: 'it', SM: 'it', PT: 'pt', BR: 'pt', AO: 'pt', MZ: 'pt', TR: 'tr', GB: 'en', US: 'en', IE: 'en', AU: 'en', NZ: 'en',
  PL: 'pl', RU: 'ru', BY: 'ru', KZ: 'ru', UA: 'uk', RO: 'ro', MD: 'ro', CZ: 'cs', SE: 'sv',
  SA: 'ar', AE: 'ar', EG: 'ar', IQ: 'ar', JO: 'ar', KW: 'ar', QA: 'ar', BH: 'ar', OM: 'ar', YE: 'ar', SY: 'ar', LY: 'ar', SD: 'ar',
  IL: 'he', IR: 'fa', BD: 'bn', PK: 'ur', ID: 'id', MY: 'ms', VN: 'vi', TH: 'th', CN: 'zh', JP: 'ja', KR: 'ko', TZ: 'sw',
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
  /** PSD2 dynamic linking (empty when the start gave none). */
  amount?: string | undefined;
  payee?: string | undefined;
}

const PLACEHOLDER = /\{\{\s*(pin|code|ttl|app|amount|payee)\s*\}\}|\{(code|pin)\}/g;

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
    if (name === 'amount') return v.amount ?? '';
    if (name === 'payee') return v.payee ?? '';
    return v.app;
  });
}

/** Languages written right to left (the email's HTML says so). */
const RTL = new Set(['ar', 'he', 'fa', 'ur']);

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
  const payment = v.amount !== undefined || v.payee !== undefined;
  const subject = renderTemplate(builtinSubject(locale), pinVars);
  const text = renderTemplate(builtinText(locale, v.ttlMinutes, payment), pinVars);
  const escapedText = renderTemplate(builtinText(locale, v.ttlMinutes, payment), {
    ...pinVars, app: escapeHtml(v.app), amount: v.amount === undefined ? undefined : escapeHtml(v.amount), payee: v.payee === undefined ? undefined : escapeHtml(v.payee),
  });
  const html = `<!doctype html><html lang="${escapeHtml(locale)}"${RTL.has(locale) ? ' dir="rtl"' : ''}><body style="font-family:system-ui,sans-serif;color:#111">` +
    `<p>${escapedText.replace('{{pin}}', '<strong style="font-size:28px;letter-spacing:4px">{{pin}}</strong>')}</p></body></html>`;
  return { subject, text, html };
}
