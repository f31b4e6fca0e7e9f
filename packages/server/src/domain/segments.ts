/**
 * SMS parts (GSM-7 vs UCS-2 segments, Twilio's calculator) and cost from a per-country price table.
 */
import { SegmentedMessage } from 'sms-segments-calculator';
import { CHANNEL, CHANNELS, type Channel } from './channels.js';

export interface Segments {
  encoding: 'GSM-7' | 'UCS-2';
  parts: number;
}

// A template renders to the same few texts again and again (only the code changes, and codes are always GSM-7
// basic characters of a fixed length), so the count is cached by text.
const cache = new Map<string, Segments>();
const CACHE_MAX = 10_000;

/** How many SMS parts `text` takes and in which encoding. */
export function countSegments(text: string): Segments {
  const hit = cache.get(text);
  if (hit) return hit;
  const m = new SegmentedMessage(text, 'auto');
  const s: Segments = { encoding: m.encodingName === 'UCS-2' ? 'UCS-2' : 'GSM-7', parts: m.segmentsCount };
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(text, s);
  return s;
}

/**
 * Prices per channel and destination: a price per SMS part, or per WhatsApp message. `*` is the fallback for
 * countries not listed. Unknown destinations cost 0.
 * @example { currency: 'EUR', sms: { FR: 0.075, BE: 0.081, '*': 0.05 }, whatsapp: { '*': 0.03 } }
 */
export type PriceTable = { currency: string } & {
  /** Country (ISO) or `*` -> price. Email has no country: its price is under `*`. */
  [C in Channel]?: Record<string, number>;
};

export const EMPTY_PRICES: PriceTable = Object.freeze({ currency: 'EUR' });

/** Cost of one message: parts × the per-part price for a segmented channel (SMS), the per-message price otherwise. */
export function messageCost(prices: PriceTable, channel: Channel, countryIso: string, parts: number): number {
  const row = prices[channel];
  const unit = row?.[countryIso] ?? row?.['*'] ?? 0;
  const cost = CHANNEL[channel].segmented ? unit * parts : unit;
  return Math.round(cost * 1e6) / 1e6;
}

/** The server price table with an app's overrides on top (an app's country price replaces the server's). */
export function pricesFor(server: PriceTable, app: Partial<PriceTable> | undefined): PriceTable {
  if (!app) return server;
  const out: PriceTable = { currency: app.currency ?? server.currency };
  for (const c of CHANNELS) out[c] = { ...server[c], ...app[c] };
  return out;
}
