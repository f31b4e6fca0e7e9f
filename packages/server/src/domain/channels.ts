/**
 * Channels: how a code travels. Each is described once, here; the rest of the code asks these traits instead of
 * naming a channel. A *provider* (Twilio, Vonage, an SMTP server…) carries one or more channels: see providers/.
 *
 * Adding a channel: its name in `CHANNELS`, its traits in `CHANNEL`, its built-in texts (domain/template.ts), and a
 * provider that lists it in its `channels` (voice was added so: its texts, and Twilio's Calls API).
 */
import { parseEmail, parsePhone } from './phone.js';

export const CHANNELS = ['sms', 'whatsapp', 'email', 'voice'] as const;
export type Channel = (typeof CHANNELS)[number];

export interface ChannelTraits {
  /** Who it reaches: a mobile number (E.164) or an email address. A workflow never mixes the two. */
  recipient: 'phone' | 'email';
  /** Split into parts billed each (SMS segments, GSM-7 or UCS-2); other channels are one part per message. */
  segmented: boolean;
  /** Has a subject and an HTML part besides the text: its outbox body is the JSON {subject, text, html}. */
  rich: boolean;
  /**
   * The sender ids an app may register for it: an SMS sender (alphanumeric id or number), an email address, or none
   * (WhatsApp messages come from the business number configured at the provider).
   */
  sender: 'sms' | 'email' | null;
  /** Read aloud: the code is said digit by digit (`1, 2, 3, …`) and the text repeats it. */
  spoken: boolean;
}

export const CHANNEL: Readonly<Record<Channel, Readonly<ChannelTraits>>> = Object.freeze({
  sms: { recipient: 'phone', segmented: true, rich: false, sender: 'sms', spoken: false },
  whatsapp: { recipient: 'phone', segmented: false, rich: false, sender: null, spoken: false },
  email: { recipient: 'email', segmented: false, rich: true, sender: 'email', spoken: false },
  // A call from the provider's number (Twilio Programmable Voice); the caller id is not an app sender.
  voice: { recipient: 'phone', segmented: false, rich: false, sender: null, spoken: true },
});

/** A recipient of a channel's kind, normalised: the E.164 number and its country, or the address (no country). */
export function parseRecipient(kind: ChannelTraits['recipient'], input: string): { to: string; countryIso: string } {
  if (kind === 'email') return { to: parseEmail(input).address, countryIso: '' };
  const p = parsePhone(input);
  return { to: p.e164, countryIso: p.countryIso };
}

/** The code as a channel carries it: digit by digit, with pauses, when it is read aloud. */
export function codeAs(channel: Channel, code: string): string {
  return CHANNEL[channel].spoken ? code.split('').join(', ') : code;
}
