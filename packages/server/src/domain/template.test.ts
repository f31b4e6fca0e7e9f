import { describe, expect, it } from 'vitest';
import { countSegments } from './segments.js';
import { codeAs } from './channels.js';
import { BUILTIN_LOCALES, builtinSubject, builtinText, builtinVoice, chooseLocale, hasCodePlaceholder, paymentClause, renderEmail, renderTemplate } from './template.js';

const available = BUILTIN_LOCALES;
/** The languages of the large OTP markets (issue 16): every one has its built-in texts. */
const REQUIRED = ['en', 'fr', 'de', 'es', 'it', 'pt', 'nl', 'tr', 'pl', 'ru', 'uk', 'ro', 'cs', 'sv', 'ar', 'he', 'fa', 'hi', 'bn', 'ur', 'id', 'ms', 'vi', 'th', 'zh', 'ja', 'ko', 'tl', 'sw'];
const render = (locale: string, ttl: number, app = 'Acme') => renderTemplate(builtinText(locale, ttl), { pin: '123456', ttlMinutes: ttl, app });

describe('chooseLocale', () => {
  it('prefers the request, then its language, then the country, then the app default, then English', () => {
    expect(chooseLocale({ requested: 'de', countryIso: 'FR', available })).toBe('de');
    expect(chooseLocale({ requested: 'fr-BE', countryIso: 'BE', available })).toBe('fr');
    expect(chooseLocale({ requested: 'xx', countryIso: 'NL', available })).toBe('nl');
    expect(chooseLocale({ countryIso: 'BE', appDefault: 'nl', available })).toBe('nl');
    expect(chooseLocale({ countryIso: 'JP', available })).toBe('ja');
    expect(chooseLocale({ countryIso: 'UA', available })).toBe('uk');
    // A multilingual country, or one that writes another script than the built-in Chinese, is not guessed.
    expect(chooseLocale({ countryIso: 'CH', available })).toBe('en');
    expect(chooseLocale({ countryIso: 'TW', available })).toBe('en');
  });
});

describe('renderTemplate', () => {
  it('fills {{pin}}, {code}, {{ttl}} and {{app}}', () => {
    expect(renderTemplate('{{app}}: {{ pin }} / {code} ({{ttl}} min)', { pin: '1234', ttlMinutes: 5, app: 'Acme' })).toBe('Acme: 1234 / 1234 (5 min)');
  });
  it('knows whether a template carries the code', () => {
    expect(hasCodePlaceholder('code {code}')).toBe(true);
    expect(hasCodePlaceholder('code {{pin}}')).toBe(true);
    expect(hasCodePlaceholder('no code {{ttl}}')).toBe(false);
  });
});

describe('built-in texts', () => {
  it('exist in the 29 languages of the large OTP markets', () => {
    expect([...available].sort()).toEqual(expect.arrayContaining(REQUIRED));
    expect(available.length).toBeGreaterThanOrEqual(29);
  });

  it('say the brand, the code and the expiry in every language and plural form; a form without the number says it in words', () => {
    for (const locale of available) {
      const categories = new Intl.PluralRules(locale).resolvedOptions().pluralCategories;
      for (const ttl of [1, 2, 3, 5, 10, 11, 15, 20, 21, 22, 25, 60, 100]) {
        const t = builtinText(locale, ttl);
        expect(hasCodePlaceholder(t), `${locale} ${ttl}`).toBe(true);
        expect(t, `${locale} ${ttl}`).toContain('{{app}}');
        const text = render(locale, ttl);
        expect(text, `${locale} ${ttl}`).toContain('123456');
        expect(text, `${locale} ${ttl}`).toContain('Acme');
        expect(text, `${locale} ${ttl}`).not.toMatch(/\{\{|\}\}/);
        // Only Arabic's and Hebrew's one and two say the number in the word.
        if (!t.includes('{{ttl}}')) expect([`ar 1`, 'ar 2', 'he 1', 'he 2']).toContain(`${locale} ${ttl}`);
        // Every category the language's rules give an integer has its own form, or reads like `other` on purpose.
        expect(categories).toContain(new Intl.PluralRules(locale).select(ttl));
      }
      const subject = renderTemplate(builtinSubject(locale), { pin: '123456', ttlMinutes: 5, app: 'Acme' });
      expect(subject, locale).toContain('123456');
      expect(subject, locale).toContain('Acme');
    }
  });

  it('agree in number with the expiry (Intl.PluralRules): "1 minute", "2 minuty", "5 minut", "21 минуту"', () => {
    const expiry = (locale: string, ttl: number) => render(locale, ttl);
    expect(expiry('en', 1)).toContain('in 1 minute.');
    expect(expiry('en', 5)).toContain('in 5 minutes.');
    expect(expiry('fr', 1)).toContain('dans 1 minute.');
    expect(expiry('fr', 10)).toContain('dans 10 minutes.');
    expect(expiry('de', 1)).toContain('in 1 Minute ab');
    expect(expiry('pl', 1)).toContain('przez 1 minutę');
    expect(expiry('pl', 2)).toContain('przez 2 minuty');
    expect(expiry('pl', 5)).toContain('przez 5 minut.');
    expect(expiry('pl', 22)).toContain('przez 22 minuty');
    expect(expiry('ru', 1)).toContain('1 минуту');
    expect(expiry('ru', 3)).toContain('3 минуты');
    expect(expiry('ru', 5)).toContain('5 минут.');
    expect(expiry('ru', 21)).toContain('21 минуту');
    expect(expiry('uk', 11)).toContain('11 хвилин.');
    expect(expiry('cs', 3)).toContain('3 minuty');
    expect(expiry('cs', 10)).toContain('10 minut.');
    expect(expiry('ro', 1)).toContain('1 minut.');
    expect(expiry('ro', 10)).toContain('10 minute.');
    expect(expiry('ro', 20)).toContain('20 de minute.');
    expect(expiry('ar', 1)).toContain('دقيقة واحدة');
    expect(expiry('ar', 2)).toContain('دقيقتين');
    expect(expiry('ar', 5)).toContain('5 دقائق');
    expect(expiry('ar', 15)).toContain('15 دقيقة');
    expect(expiry('he', 2)).toContain('שתי דקות');
    expect(expiry('he', 10)).toContain('10 דקות');
    expect(expiry('sv', 1)).toContain('1 minut.');
    expect(expiry('sv', 5)).toContain('5 minuter.');
  });

  it('are counted in parts as they go out: GSM-7 where the alphabet allows, UCS-2 otherwise, one part each with a short brand', () => {
    const parts: Record<string, string> = {};
    for (const locale of available) {
      const s = countSegments(render(locale, 10));
      parts[locale] = `${s.encoding} ${s.parts}`;
      expect(s.parts, locale).toBe(1);
    }
    expect(parts.en).toBe('GSM-7 1');
    expect(parts.fr).toBe('GSM-7 1');
    expect(parts.de).toBe('GSM-7 1');
    for (const l of ['ru', 'uk', 'ar', 'he', 'fa', 'hi', 'bn', 'ur', 'th', 'zh', 'ja', 'ko', 'pl', 'ro', 'cs', 'vi', 'es', 'pt', 'tr']) expect(parts[l], l).toBe('UCS-2 1');
  });

  it('say what a payment code approves (PSD2 dynamic linking) in every language, before the text', () => {
    for (const locale of available) {
      expect(paymentClause(locale), locale).toMatch(/\{\{amount\}\}/);
      expect(paymentClause(locale), locale).toMatch(/\{\{payee\}\}/);
      const text = renderTemplate(builtinText(locale, 5, true), { pin: '123456', ttlMinutes: 5, app: 'Acme', amount: '€49.99', payee: 'Shop' });
      expect(text.indexOf('€49.99'), locale).toBeLessThan(text.indexOf('123456'));
      expect(text, locale).toContain('Shop');
    }
    expect(renderTemplate(builtinText('fr', 5, true), { pin: '1', ttlMinutes: 5, app: 'A', amount: '49,99 €', payee: 'Boutique' })).toMatch(/^Paiement de 49,99 € à Boutique\. Votre code/);
  });

  it('are said on a call in every language: the brand, and the code twice, digit by digit', () => {
    for (const locale of available) {
      const t = builtinVoice(locale);
      expect(t.match(/\{\{pin\}\}/g), locale).toHaveLength(2);
      expect(t, locale).toContain('{{app}}');
      expect(builtinVoice(locale, true).startsWith(paymentClause(locale)), locale).toBe(true);
    }
    expect(codeAs('voice', '4829')).toBe('4, 8, 2, 9');
    expect(codeAs('sms', '4829')).toBe('4829');
  });

  it('render an email in the language, right to left where it is written so', () => {
    const ar = renderEmail('ar', { ttlMinutes: 10, app: 'Acme' });
    expect(ar.html).toContain('lang="ar" dir="rtl"');
    expect(ar.text).toContain('10 دقائق');
    const pl = renderEmail('pl', { ttlMinutes: 1, app: 'A&B' });
    expect(pl.subject).toBe('Twój kod weryfikacyjny A&B: {{pin}}');
    expect(pl.html).toContain('A&amp;B');
    expect(pl.html).not.toContain('dir=');
  });
});
