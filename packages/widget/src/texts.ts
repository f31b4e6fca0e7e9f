/** The widget's texts: English in the script; the other built-in languages in public/i18n/{lang}.json, fetched when needed. */
/** The texts: English here, the other built-in languages fetched from otpd (`/widget/i18n/{lang}.json`) when needed. */
export type Strings = Record<string, string>;
export const EN: Strings = {
  title: 'Verify your identity', intro: 'We will send a code to {to}.', via: 'Send it by', send: 'Send the code', sent: 'Code sent to {to}.',
  label: 'Code', verify: 'Verify', resend: 'Send a new code', resendIn: 'New code in {s} s', wrong_one: 'That code is not right. 1 try left.',
  wrong_other: 'That code is not right. {n} tries left.', expired: 'This code has expired. Send a new one.',
  locked: 'Too many wrong codes. Try again in {time}.', wait: 'Please wait {s} s before asking for another code.',
  tooMany: 'Too many codes were sent. Try again later.', invalid: 'This number or address cannot receive codes.',
  refused: 'This request was refused.', network: 'The server cannot be reached. Check your connection and try again.',
  session: 'This page has expired. Reload it to start again.', done: 'Verified.', sms: 'SMS', whatsapp: 'WhatsApp', voice: 'Phone call', email: 'Email',
};
/** The languages otpd has texts for (the same as its messages'). */
export const LANGS = 'en fr de es it pt nl tr pl ru uk ro cs sv ar he fa hi bn ur id ms vi th zh ja ko tl sw'.split(' ');
export const RTL = new Set(['ar', 'he', 'fa', 'ur']);

