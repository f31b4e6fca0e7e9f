import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALPHABETS } from '../domain/code.js';
import { CODE_TYPES } from '../domain/policy.js';
import { redactProviderText as redact } from './provider-text.js';

describe('redactProviderText', () => {
  it('replaces the code wherever it appears, in any case', () => {
    expect(redact('gw 503: {"text":"Your code is 482913","code":"482913"}', '482913', 300)).toBe('gw 503: {"text":"Your code is [code]","code":"[code]"}');
    expect(redact('refused: Body=Your+code+is+k7pq9z', 'K7PQ9Z', 300)).toBe('refused: Body=Your+code+is+[code]');
    expect(redact('echo: 482913482913', '482913', 300)).toBe('echo: [code][code]');
  });

  it('also when its characters are spaced out, dashed, dotted or comma separated (voice and gateway formats)', () => {
    for (const written of ['4 8 2 9 1 3', '482-913', '482 913', '4.8.2.9.1.3', '4, 8, 2, 9, 1, 3', '4 - 8 - 2 - 9 - 1 - 3', '4\n8\t2\u00a09\u200b1\u20133']) {
      expect(redact(`say: ${written}. bye`, '482913', 300), written).toBe('say: [code]. bye');
    }
  });

  it('leaves text without the code as it is, apart from control characters and whitespace', () => {
    expect(redact('twilio 429: Too Many Requests', '482913', 300)).toBe('twilio 429: Too Many Requests');
    expect(redact('  smtp DATA 451\r\n 4.3.0\u0000 try\u202e later\u2028 ', '482913', 300)).toBe('smtp DATA 451 4.3.0 try later');
    expect(redact('status 48291 and 82913', '482913', 300)).toBe('status 48291 and 82913'); // not the code, not at the end
  });

  it('without a code (the send failed before it was known), only cleans and bounds', () => {
    expect(redact('no\nanswer 482913', undefined, 300)).toBe('no answer 482913');
    expect(redact('x'.repeat(400), undefined, 300)).toHaveLength(300);
  });

  it('redacts before it cuts: a code across the bound leaves no part of itself', () => {
    const text = `${'a'.repeat(295)} 4829131234`;
    const out = redact(text, '4829131234', 300);
    expect(out).toBe(`${'a'.repeat(295)} [co…`);
    expect(out).toHaveLength(300);
    expect(out).not.toMatch(/48/);
  });

  it('redacts what a cut made before it got here left at the end: a prefix of two characters or more, or one starting a word', () => {
    expect(redact('gw 503: {"code":"4829', '482913', 300)).toBe('gw 503: {"code":"[code]');
    expect(redact('gw 503: Your code is 4 8', '482913', 300)).toBe('gw 503: Your code is [code]');
    expect(redact('gw 503: Your code is 4', '482913', 300)).toBe('gw 503: Your code is [code]');
    expect(redact('gw 503: %2048', '482913', 300)).toBe('gw 503: %20[code]');
    expect(redact('smtp 451 try again in 14', '482913', 300)).toBe('smtp 451 try again in 14');
    expect(redact('smtp 451 error 4', '482913', 300)).toBe('smtp 451 error [code]'); // the price of safety: a lone last word
    expect(redact('smtp 451 a4', '482913', 300)).toBe('smtp 451 a4'); // one character inside a word: an ordinary word
  });

  it('leaves error codes whole: no end-of-text rule for text that was never cut', () => {
    expect(redact('451', '510000', 64, { whole: true })).toBe('451');
    expect(redact('451', '510000', 64)).toBe('4[code]');
    expect(redact('upstream 482913', '482913', 64, { whole: true })).toBe('upstream [code]');
  });

  it('uses another marker when the code would spell part of "[code]"', () => {
    expect(redact('your code is CODE', 'CODE', 300)).toBe('your [*] is [*]');
  });

  it('never splits a surrogate pair', () => {
    const out = redact(`${'a'.repeat(298)}😀😀`, undefined, 300);
    expect(out).toBe(`${'a'.repeat(298)}…`);
  });

  // Codes as otpd draws them; text around them with anything in it, control characters included.
  const code = fc.constantFrom(...CODE_TYPES).chain((t) => fc.array(fc.constantFrom(...ALPHABETS[t]), { minLength: 4, maxLength: 10 }).map((a) => a.join('')));
  const sep = fc.constantFrom('', ' ', '-', '.', ',', ', ', ' - ', '. ', '\n', '\r\n', '\t', '\u00a0', '\u200b', '\u2013');
  /** The code as a provider may have written it: any case, its characters separated. */
  const written = (c: string) => fc.tuple(fc.array(sep, { minLength: c.length, maxLength: c.length }), fc.array(fc.boolean(), { minLength: c.length, maxLength: c.length }))
    .map(([seps, lower]) => [...c].map((ch, i) => (lower[i] ? ch.toLowerCase() : ch) + (i < c.length - 1 ? seps[i] : '')).join(''));
  const noise = fc.string({ unit: 'binary', maxLength: 40 });
  // Independent of the implementation: the code's characters in order with only separators between them.
  const found = (out: string, c: string) => new RegExp([...c].join('[\\s.,\\u00b7\\u2022\\u2010-\\u2015\\u2212-]*'), 'iu').test(out);

  it('property: the output never holds the code, has no control characters and respects the bound', () => {
    fc.assert(fc.property(code.chain((c) => fc.tuple(fc.constant(c), fc.array(fc.tuple(noise, written(c)), { minLength: 1, maxLength: 6 }), noise, fc.integer({ min: 8, max: 400 }))),
      ([c, parts, tail, max]) => {
        const text = parts.map(([n, w]) => n + w).join('') + tail;
        const out = redact(text, c, max);
        expect(out.length).toBeLessThanOrEqual(max);
        expect(out).not.toMatch(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u);
        expect(found(out, c)).toBe(false);
      }), { numRuns: 500 });
  });

  it('property: a text cut inside the code (before it got here) keeps at most its first character, inside a word', () => {
    fc.assert(fc.property(code.chain((c) => fc.tuple(fc.constant(c), noise, written(c), fc.integer({ min: 1, max: 100 }))), ([c, before, w, at]) => {
      const cut = w.slice(0, Math.min(at, w.length - 1)); // the code's written form, cut short
      const out = redact(`${before}${cut}`, c, 1000);
      const kept = cut.replace(/[^\p{L}\p{N}]/gu, '');
      if (kept.length >= 2) expect(out.replace(/[\s.,\u00b7\u2022\u2010-\u2015\u2212-]/gu, '').toUpperCase().endsWith(kept.toUpperCase())).toBe(false);
    }), { numRuns: 500 });
  });

  it('redacts the provider\'s credentials, also percent-, form- and JSON-encoded, before the code', () => {
    const secrets = ['s3cr3t/+= x', 'tok-123456'];
    const text = 'echo: api_secret=s3cr3t%2F%2B%3D+x&k=s3cr3t%2F%2B%3D%20x {"a":"s3cr3t/+= x"} Bearer tok-123456 code 4711';
    const out = redact(text, '4711', 300, { secrets });
    expect(out).toBe('echo: api_secret=[secret]&k=[secret] {"a":"[secret]"} Bearer [secret] code [code]');
  });
});
