/**
 * Email through any SMTP server (nodemailer). Failures are classified by what the server said:
 * - a 5xx reply is a definite rejection, a 4xx reply transient (nothing was accepted);
 * - no connection at all (refused, DNS, connection or greeting timeout) is transient: nothing was sent;
 * - a socket timeout or reset in the middle of a session is unknown: nodemailer does not tell which command was
 *   waiting (it labels them all CONN), and the message data may have been sent, so it must not be sent again.
 */
import nodemailer, { type Transporter } from 'nodemailer';
import type { Channel } from '../../domain/policy.js';
import { ProviderError, type DeliveryProvider, type OutgoingMessage, type SendResult } from '../types.js';

export interface SmtpConfig {
  name: string;
  type: 'smtp';
  /** smtp://user:pass@host:587 (STARTTLS when offered) or smtps://user:pass@host:465 */
  url: string;
  /** Sender, e.g. "Acme <no-reply@acme.example>" */
  from: string;
  /** Allow a server certificate that does not verify (testing only). */
  insecureTls?: boolean;
  timeoutMs?: number;
}

// Errors that mean no session was ever established.
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'EDNS', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

interface SmtpError extends Error {
  code?: string;
  command?: string;
  responseCode?: number;
  response?: string;
}

export class SmtpProvider implements DeliveryProvider {
  readonly type = 'smtp';
  readonly channels: readonly Channel[] = ['email'];
  readonly name: string;
  private readonly transport: Transporter;
  readonly secrets: readonly string[];

  constructor(private readonly c: SmtpConfig) {
    this.name = c.name;
    const t = c.timeoutMs ?? 15_000;
    const u = new URL(c.url);
    const secure = u.protocol === 'smtps:';
    this.secrets = u.password ? [decodeURIComponent(u.password)] : [];
    this.transport = nodemailer.createTransport({
      host: u.hostname, port: u.port ? Number(u.port) : secure ? 465 : 587, secure,
      auth: u.username ? { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } : undefined,
      pool: true, maxConnections: 4, connectionTimeout: t, greetingTimeout: t, socketTimeout: t,
      tls: c.insecureTls ? { rejectUnauthorized: false } : undefined,
    });
  }

  async send(m: OutgoingMessage): Promise<SendResult> {
    try {
      const info = await this.transport.sendMail({
        from: m.sender ?? this.c.from, to: m.to, subject: m.subject ?? m.text.slice(0, 78), text: m.text, html: m.html,
        headers: { 'X-Otpd-Message-Id': m.id }, messageId: `<${m.id}@otpd>`,
      });
      if ((info.rejected ?? []).length > 0) throw new ProviderError('rejected', `recipient refused: ${String(info.response)}`, { code: 'recipient_rejected' });
      return { providerMessageId: info.messageId };
    } catch (e) {
      if (e instanceof ProviderError) throw e;
      const err = e as SmtpError;
      const code = err.responseCode ? String(err.responseCode) : err.code;
      const msg = `smtp ${err.command ?? ''} ${err.responseCode ?? ''} ${err.message}`.replace(/\s+/g, ' ').trim();
      if (err.responseCode) throw new ProviderError(err.responseCode >= 500 ? 'rejected' : 'transient', msg, { code });
      // nodemailer wraps socket errors as ESOCKET; Node's message still says whether connect() itself failed.
      if (NOT_CONNECTED.has(err.code ?? '') || /^(Connection timeout|Greeting never received|connect E[A-Z]+|getaddrinfo E[A-Z]+)/.test(err.message)) {
        throw new ProviderError('transient', msg, { code });
      }
      throw new ProviderError('unknown', msg, { code });
    }
  }

  /** Closes pooled connections. */
  close(): void {
    this.transport.close();
  }
}
