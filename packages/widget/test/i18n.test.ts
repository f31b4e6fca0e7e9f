/** Every built-in language of the widget says everything English says, with the same values, and each plural it needs. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EN, LANGS } from '../src/texts.js';

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('widget texts', () => {
  it('has a file for every language but English, with every text and the same placeholders', () => {
    for (const lang of LANGS.filter((l) => l !== 'en')) {
      const t = JSON.parse(readFileSync(join(import.meta.dirname, '../public/i18n', `${lang}.json`), 'utf8')) as Record<string, string>;
      for (const [k, en] of Object.entries(EN)) {
        if (k.startsWith('wrong_') || ['sms', 'whatsapp'].includes(k)) continue;
        expect(t[k], `${lang}.${k}`).toBeTypeOf('string');
        expect(placeholders(t[k]!), `${lang}.${k}`).toEqual(placeholders(en));
      }
      // The wrong-code text in every plural form the language uses (its own words, or {n}).
      for (const n of [0, 1, 2, 3, 5, 11, 21, 100]) {
        const cat = new Intl.PluralRules(lang).select(n);
        expect(t[`wrong_${cat}`] ?? t.wrong_other, `${lang} wrong_${cat}`).toBeTypeOf('string');
      }
      for (const [k, v] of Object.entries(t)) if (k.startsWith('wrong_')) expect(placeholders(v).every((p) => p === 'n'), `${lang}.${k}`).toBe(true);
    }
  });
});
