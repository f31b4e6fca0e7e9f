import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALPHABETS, codeMatches, deriveKeys, generateCode, hashCode, normalizeCode, openCode, sealCode } from './code.js';
import { OtpdError } from './errors.js';
import { CODE_TYPES } from './policy.js';

const keys = deriveKeys('k'.repeat(32));

describe('generateCode', () => {
  it('draws only from the alphabet, at the requested length', () => {
    fc.assert(fc.property(fc.constantFrom(...CODE_TYPES), fc.integer({ min: 4, max: 10 }), (type, len) => {
      const c = generateCode(type, len);
      expect(c).toHaveLength(len);
      for (const ch of c) expect(ALPHABETS[type]).toContain(ch);
    }));
  });

  it('uses every symbol of the alphabet (no biased or truncated range)', () => {
    for (const type of CODE_TYPES) {
      const seen = new Set<string>();
      for (let i = 0; i < 400; i++) for (const ch of generateCode(type, 10)) seen.add(ch);
      expect([...seen].sort().join('')).toBe([...ALPHABETS[type]].sort().join(''));
    }
  });

  it('alphanumeric codes have no look-alike characters', () => {
    for (const ch of '01OIL') expect(ALPHABETS.alphanumeric).not.toContain(ch);
  });
});

describe('HMAC and comparison', () => {
  it('matches only the same code for the same verification', () => {
    fc.assert(fc.property(fc.stringMatching(/^[0-9A-Z]{4,10}$/), fc.stringMatching(/^[0-9A-Z]{4,10}$/), (a, b) => {
      const h = hashCode(keys, 'ver_1', a);
      expect(codeMatches(keys, 'ver_1', a, h)).toBe(true);
      expect(codeMatches(keys, 'ver_1', b, h)).toBe(a === b);
      expect(codeMatches(keys, 'ver_2', a, h)).toBe(false);
    }));
  });

  it('depends on the secret', () => {
    const other = deriveKeys('z'.repeat(32));
    expect(hashCode(keys, 'ver_1', '123456').equals(hashCode(other, 'ver_1', '123456'))).toBe(false);
    expect(codeMatches(keys, 'ver_1', '123456', Buffer.alloc(5))).toBe(false);
  });
});

describe('sealed codes', () => {
  it('round-trip, and refuse another verification id or tampering', () => {
    const sealed = sealCode(keys, 'ver_1', '654321');
    expect(sealed.includes(Buffer.from('654321'))).toBe(false);
    expect(openCode(keys, 'ver_1', sealed)).toBe('654321');
    expect(() => openCode(keys, 'ver_2', sealed)).toThrow();
    const t = Buffer.from(sealed);
    t[t.length - 1]! ^= 1;
    expect(() => openCode(keys, 'ver_1', t)).toThrow();
    expect(() => openCode(deriveKeys('z'.repeat(32)), 'ver_1', sealed)).toThrow();
  });
});

describe('normalizeCode', () => {
  it('accepts 4-10 ASCII letters and digits, trimmed and upper-cased', () => {
    expect(normalizeCode(' abC123 ')).toBe('ABC123');
  });
  it('refuses everything else as invalid_code', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 14 }), (s) => {
      const ok = /^[A-Za-z0-9]{4,10}$/.test(s.trim());
      try {
        normalizeCode(s);
        expect(ok).toBe(true);
      } catch (e) {
        expect(ok).toBe(false);
        expect((e as OtpdError).code).toBe('invalid_code');
      }
    }));
    for (const s of ['١٢٣٤٥٦', '１２３４５６', '12३456', '']) expect(() => normalizeCode(s)).toThrow(OtpdError);
  });
});
