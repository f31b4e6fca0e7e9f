import { describe, expect, it } from 'vitest';
import { assertCountryAllowed, parsePhone } from './phone.js';

describe('parsePhone', () => {
  it.each([
    ['+33612345678', '+33612345678', 'FR'], ['+33 6 12 34 56 78', '+33612345678', 'FR'], ['+32470123456', '+32470123456', 'BE'],
    ['+447400123456', '+447400123456', 'GB'], ['+14155552671', '+14155552671', 'US'], ['+905321234567', '+905321234567', 'TR'],
    ['+5511961234567', '+5511961234567', 'BR'], ['+919876543210', '+919876543210', 'IN'],
  ])('accepts the mobile %s', (input, e164, iso) => {
    expect(parsePhone(input)).toEqual({ e164, countryIso: iso });
  });

  it.each([['+33123456789', 'fixed line'], ['+3225551234', 'fixed line'], ['+33800123456', 'toll free'], ['0612345678', 'no +'], ['+12', 'short'], ['+33 6', 'short'], ['', 'empty']])(
    'refuses %s (%s)', (input) => {
      expect(() => parsePhone(input)).toThrow(expect.objectContaining({ code: 'invalid_phone_number' }));
    });
});

describe('country lists', () => {
  it('deny wins; a non-empty allow list admits only its countries', () => {
    expect(() => assertCountryAllowed('FR')).not.toThrow();
    expect(() => assertCountryAllowed('FR', ['FR', 'BE'])).not.toThrow();
    expect(() => assertCountryAllowed('US', ['FR', 'BE'])).toThrow(expect.objectContaining({ code: 'country_not_allowed' }));
    expect(() => assertCountryAllowed('FR', ['FR'], ['FR'])).toThrow(expect.objectContaining({ code: 'country_not_allowed' }));
    expect(() => assertCountryAllowed('FR', [], ['US'])).not.toThrow();
  });
});
