/**
 * <otpd-verify session="otpd_cs_…">: a drop-in verification popin body. It explains, lets the user choose the
 * channel, sends the code at a click and takes it: `autocomplete="one-time-code"`, a pasted "123-456" normalised,
 * WebOTP where the browser has it, a resend countdown that follows the server's cooldown, every error in plain words.
 * It holds only a client session (from the page's backend), never an API key. Events: `verified` and `failed`
 * (detail: { verificationId, reason? }); the backend confirms with GET /v1/verifications/{id} or its webhook.
 * Theming: CSS custom properties (--otpd-accent, --otpd-bg, --otpd-fg, --otpd-muted, --otpd-error, --otpd-radius,
 * --otpd-font) and parts (container, title, text, channels, send, label, input, verify, resend, message).
 */

import { EN, LANGS, RTL, type Strings } from './texts.js';

const CSS = `:host{display:block;font:var(--otpd-font,15px/1.45 system-ui,sans-serif);color:var(--otpd-fg,#111827)}
[part=container]{background:var(--otpd-bg,#fff);border-radius:var(--otpd-radius,8px);padding:16px;max-width:360px}
h2{font-size:1.15em;margin:0 0 8px}p{margin:0 0 12px}fieldset{border:0;padding:0;margin:0 0 12px;display:flex;gap:12px;flex-wrap:wrap}
legend{margin-bottom:4px;color:var(--otpd-muted,#4b5563)}label{display:block;font-weight:600;margin-bottom:4px}label.choice{font-weight:400}
input[type=text]{font:inherit;font-size:1.4em;letter-spacing:.3em;width:100%;box-sizing:border-box;padding:8px;border:1px solid #6b7280;border-radius:var(--otpd-radius,8px)}
button{font:inherit;font-weight:600;padding:8px 16px;border-radius:var(--otpd-radius,8px);border:1px solid var(--otpd-accent,#1d4ed8);background:var(--otpd-accent,#1d4ed8);color:#fff;cursor:pointer;margin-top:12px}
button.link{background:none;color:var(--otpd-accent,#1d4ed8);border:0;padding:4px 0}button:disabled{opacity:.6;cursor:default}
:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}[part=message]{min-height:1.4em;margin-top:10px}
.error{color:var(--otpd-error,#b91c1c)}.ok{color:#047857;font-weight:600}`;

interface Problem { status: number; code: string; retryAfter?: number | undefined }
interface Verification { id: string; status: string; channel: string; to: string; resendAvailableAt: string; attemptsRemaining: number }

export class OtpdVerify extends HTMLElement {
  private root = this.attachShadow({ mode: 'open' });
  private t: Strings = EN;
  private language = 'en';
  private v: Verification | null = null;
  private to = '';
  private channels: string[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  private otp: AbortController | undefined;

  private get base(): string {
    return (this.getAttribute('base-url') ?? new URL(import.meta.url).origin).replace(/\/+$/, '');
  }

  connectedCallback(): void {
    void this.load();
  }

  disconnectedCallback(): void {
    clearInterval(this.timer);
    this.otp?.abort();
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let r: Response;
    try {
      r = await fetch(`${this.base}/client/v1${path}`, {
        method, headers: { authorization: `Bearer ${this.getAttribute('session') ?? ''}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
    } catch {
      throw { status: 0, code: 'network' } satisfies Problem;
    }
    const json = await r.json().catch(() => ({}));
    if (!r.ok) throw { status: r.status, code: json.code ?? 'error', retryAfter: json.retryAfter ?? (Number(r.headers.get('retry-after')) || undefined) } satisfies Problem;
    return json as T;
  }

  /** The language: the `locale` attribute, the session's, the browser's; its texts loaded from otpd. */
  private async pick(locale: string | null): Promise<void> {
    const want = [this.getAttribute('locale'), locale, ...navigator.languages].filter(Boolean).map((l) => l!.slice(0, 2).toLowerCase());
    const lang = want.find((l) => LANGS.includes(l)) ?? 'en';
    if (lang !== 'en' && lang !== this.language) {
      try {
        const r = await fetch(`${this.base}/widget/i18n/${lang}.json`);
        if (r.ok) this.t = { ...EN, ...(await r.json()) as Strings };
      } catch { /* English then */ }
    }
    this.language = lang;
    this.setAttribute('lang', lang);
    this.setAttribute('dir', RTL.has(lang) ? 'rtl' : 'ltr');
  }

  /** How long, in the language's words: minutes, or hours from two hours on ("24 hours", "24 heures"). */
  private duration(seconds: number): string {
    const m = Math.max(1, Math.ceil(seconds / 60));
    const [n, unit] = m >= 120 ? [Math.round(m / 60), 'hour'] : [m, 'minute'];
    return new Intl.NumberFormat(this.language, { style: 'unit', unit, unitDisplay: 'long' }).format(n);
  }

  /** A text with its values: `{to}`, `{n}`, `{s}`, `{time}`; `wrong` by the language's plural rules. */
  private say$(key: string, v: Record<string, string | number> = {}): string {
    const k = key === 'wrong' ? `wrong_${new Intl.PluralRules(this.language).select(Number(v.n))}` : key;
    // A number or address is isolated left to right (U+2066…U+2069): it stays whole in a right-to-left sentence.
    return (this.t[k] ?? this.t[`${key}_other`] ?? EN[k] ?? key).replace(/\{(\w+)\}/g, (_, x: string) => (x === 'to' ? `\u2066${v[x] ?? ''}\u2069` : String(v[x] ?? '')));
  }

  private async load(): Promise<void> {
    try {
      const s = await this.call<{ to: string; channels: string[]; locale: string | null; verification: Verification | null }>('GET', '/session');
      await this.pick(s.locale);
      this.to = s.to;
      this.channels = s.channels;
      this.v = s.verification;
      if (this.v) this.code();
      else this.intro();
    } catch (e) {
      await this.pick(null);
      this.intro();
      this.show(e as Problem);
    }
  }

  private render(html: string): void {
    // A constructed stylesheet: no inline <style>, so a page's CSP need not allow inline styles.
    const adopt = 'adoptedStyleSheets' in Document.prototype && 'replaceSync' in CSSStyleSheet.prototype;
    if (adopt && this.root.adoptedStyleSheets.length === 0) {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      this.root.adoptedStyleSheets = [sheet];
    }
    this.root.innerHTML = `${adopt ? '' : `<style>${CSS}</style>`}<div part="container" role="group" aria-labelledby="t"><h2 id="t" part="title">${this.esc(this.say$('title'))}</h2>${html}<div part="message" id="m" role="status" aria-live="polite"></div></div>`;
  }

  private esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

  private intro(): void {
    const e = (k: string, v?: Record<string, string>) => this.esc(this.say$(k, v));
    const choice = this.channels.length > 1
      ? `<fieldset part="channels"><legend>${e('via')}</legend>${this.channels.map((c, i) => `<label class="choice"><input type="radio" name="ch" value="${c}"${i ? '' : ' checked'}> ${e(c)}</label>`).join('')}</fieldset>`
      : '';
    this.render(`<p part="text">${e('intro', { to: this.to })}</p>${choice}<button part="send" id="send" type="button">${e('send')}</button>`);
    this.root.getElementById('send')!.addEventListener('click', () => void this.send());
  }

  private async send(): Promise<void> {
    const b = this.root.getElementById('send') as HTMLButtonElement;
    b.disabled = true;
    const channel = (this.root.querySelector('input[name=ch]:checked') as HTMLInputElement | null)?.value;
    try {
      this.v = await this.call<Verification>('POST', '/verifications', channel ? { channel } : {});
      this.code();
    } catch (e) {
      b.disabled = false;
      this.show(e as Problem);
    }
  }

  private code(): void {
    const e = (k: string, v?: Record<string, string>) => this.esc(this.say$(k, v));
    this.render(`<p part="text">${e('sent', { to: this.v!.to })}</p><form novalidate><label part="label" for="c">${e('label')}</label>
<input part="input" id="c" type="text" autocomplete="one-time-code" inputmode="numeric" maxlength="14" spellcheck="false" autocapitalize="characters" dir="ltr">
<button part="verify" type="submit">${e('verify')}</button></form><button part="resend" id="r" class="link" type="button" disabled></button>`);
    const input = this.root.getElementById('c') as HTMLInputElement;
    // "123-456", "123 456": only the code's letters and digits are kept, upper-cased.
    input.addEventListener('input', () => { input.value = input.value.replace(/[^0-9a-z]/gi, '').toUpperCase().slice(0, 10); });
    this.root.querySelector('form')!.addEventListener('submit', (e) => { e.preventDefault(); void this.check(); });
    this.root.getElementById('r')!.addEventListener('click', () => void this.resend());
    this.countdown();
    input.focus();
    this.webOtp(input);
  }

  /** WebOTP: the browser reads the SMS ending with "@domain #code" and offers the code; it is then checked at once. */
  private webOtp(input: HTMLInputElement): void {
    if (!('OTPCredential' in window)) return;
    this.otp?.abort();
    this.otp = new AbortController();
    (navigator.credentials.get({ otp: { transport: ['sms'] }, signal: this.otp.signal } as CredentialRequestOptions) as Promise<{ code?: string } | null>)
      .then((c) => {
        if (c?.code) {
          input.value = c.code;
          void this.check();
        }
      }, () => undefined);
  }

  private countdown(): void {
    clearInterval(this.timer);
    const r = this.root.getElementById('r') as HTMLButtonElement;
    const tick = () => {
      const s = Math.ceil((Date.parse(this.v!.resendAvailableAt) - Date.now()) / 1000);
      r.disabled = s > 0;
      r.textContent = s > 0 ? this.say$('resendIn', { s }) : this.say$('resend');
      if (s <= 0) clearInterval(this.timer);
    };
    tick();
    this.timer = setInterval(tick, 1000);
  }

  private async resend(): Promise<void> {
    try {
      this.v = await this.call<Verification>('POST', `/verifications/${this.v!.id}/resend`, {});
      this.countdown();
      this.say(this.say$('sent', { to: this.v.to }), false);
    } catch (e) {
      this.show(e as Problem);
    }
  }

  private async check(): Promise<void> {
    const input = this.root.getElementById('c') as HTMLInputElement;
    const code = input.value;
    if (code.length < 4) return;
    try {
      const r = await this.call<{ status: string; valid: boolean; attemptsRemaining: number; retryAfter?: number }>('POST', `/verifications/${this.v!.id}/check`, { code });
      if (r.valid) return this.finish();
      if (r.status === 'pending') return this.say(this.say$('wrong', { n: r.attemptsRemaining }), true, input);
      if (r.status === 'expired') return this.say(this.say$('expired'), true);
      // The last wrong code locks the number, for the app's lockout (the server says how long).
      this.fail(r.status, this.say$('locked', { time: this.duration(r.retryAfter ?? 86_400) }));
    } catch (e) {
      this.show(e as Problem);
    }
  }

  private finish(): void {
    clearInterval(this.timer);
    this.otp?.abort();
    this.render(`<p class="ok" role="status">${this.esc(this.say$('done'))}</p>`);
    this.dispatchEvent(new CustomEvent('verified', { detail: { verificationId: this.v!.id }, bubbles: true, composed: true }));
  }

  private fail(reason: string, text: string): void {
    clearInterval(this.timer);
    this.say(text, true);
    this.root.querySelectorAll('button, input').forEach((x) => { (x as HTMLInputElement).disabled = true; });
    this.dispatchEvent(new CustomEvent('failed', { detail: { verificationId: this.v?.id ?? null, reason }, bubbles: true, composed: true }));
  }

  private say(text: string, error: boolean, focus?: HTMLInputElement): void {
    const m = this.root.getElementById('m')!;
    m.className = error ? 'error' : '';
    m.setAttribute('role', error ? 'alert' : 'status');
    m.textContent = text;
    if (focus) {
      focus.select();
      focus.setAttribute('aria-invalid', 'true');
      focus.setAttribute('aria-describedby', 'm');
    }
  }

  /** A problem in plain words. */
  private show(p: Problem): void {
    const $ = (k: string, v?: Record<string, string | number>) => this.say$(k, v);
    switch (p.code) {
      case 'network': return this.say($('network'), true);
      case 'unauthorized': return this.fail('session', $('session'));
      case 'phone_locked': case 'max_attempts_reached': return this.fail(p.code, $('locked', { time: this.duration(p.retryAfter ?? 3600) }));
      case 'rate_limited': return this.say($('wait', { s: p.retryAfter ?? 60 }), true);
      case 'max_sends_reached': return this.fail(p.code, $('tooMany'));
      case 'verification_expired': return this.say($('expired'), true);
      case 'invalid_phone_number': case 'invalid_email': case 'country_not_allowed': return this.fail(p.code, $('invalid'));
      default: return this.say($('refused'), true);
    }
  }
}

if (!customElements.get('otpd-verify')) customElements.define('otpd-verify', OtpdVerify);
