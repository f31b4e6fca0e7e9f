import { describe, expect, it } from 'vitest';
import { BUILTIN_TEMPLATES, chooseLocale, hasCodePlaceholder, renderTemplate } from './template.js';

const available = Object.keys(BUILTIN_TEMPLATES);

describe('chooseLocale', () => {
  it('prefers the request, then its language, then the country, then the app default, then English', () => {
    expect(chooseLocale({ requested: 'de', countryIso: 'FR', available })).toBe('de');
    expect(chooseLocale({ requested: 'fr-BE', countryIso: 'BE', available })).toBe('fr');
    expect(chooseLocale({ requested: 'xx', countryIso: 'NL', available })).toBe('nl');
    expect(chooseLocale({ countryIso: 'BE', appDefault: 'nl', available })).toBe('nl');
    expect(chooseLocale({ countryIso: 'JP', available })).toBe('en');
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
    for (const t of Object.values(BUILTIN_TEMPLATES)) expect(hasCodePlaceholder(t)).toBe(true);
  });
});
