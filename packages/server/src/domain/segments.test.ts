import { describe, expect, it } from 'vitest';
import { countSegments, messageCost } from './segments.js';

describe('countSegments', () => {
  it('counts GSM-7 (160 / 153 per part) and UCS-2 (70 / 67 per part)', () => {
    expect(countSegments('a'.repeat(160))).toEqual({ encoding: 'GSM-7', parts: 1 });
    expect(countSegments('a'.repeat(161))).toEqual({ encoding: 'GSM-7', parts: 2 });
    expect(countSegments('é'.repeat(160))).toEqual({ encoding: 'GSM-7', parts: 1 });
    expect(countSegments('ó'.repeat(70))).toEqual({ encoding: 'UCS-2', parts: 1 });
    expect(countSegments('ó'.repeat(71))).toEqual({ encoding: 'UCS-2', parts: 2 });
  });
});

describe('messageCost', () => {
  const prices = { currency: 'EUR', sms: { FR: 0.075, '*': 0.05 }, whatsapp: { '*': 0.03 } };
  it('prices SMS per part and WhatsApp per message, with a fallback and 0 when unknown', () => {
    expect(messageCost(prices, 'sms', 'FR', 2)).toBe(0.15);
    expect(messageCost(prices, 'sms', 'US', 1)).toBe(0.05);
    expect(messageCost(prices, 'whatsapp', 'FR', 3)).toBe(0.03);
    expect(messageCost({ currency: 'EUR' }, 'sms', 'FR', 1)).toBe(0);
  });
});
