/**
 * The console provider (development only): "delivers" every channel by printing the message to stdout and keeping
 * it in the dev inbox. Production refuses to start with it.
 */
import type { Channel } from '../../domain/policy.js';
import { CHANNELS } from '../../domain/policy.js';
import type { DevInbox } from '../../delivery/dev-inbox.js';
import type { DeliveryProvider, OutgoingMessage, SendResult } from '../types.js';

export class ConsoleProvider implements DeliveryProvider {
  readonly type = 'console';
  readonly channels: readonly Channel[] = CHANNELS;
  readonly secrets: readonly string[] = [];

  constructor(private readonly inbox: DevInbox, private readonly out: { write(chunk: string): unknown } | null, private readonly now: () => number, readonly name = 'console') {}

  async send(m: OutgoingMessage): Promise<SendResult> {
    this.inbox.add({
      id: m.id, appId: m.appId, verificationId: m.verificationId, to: m.to, channel: m.channel, text: m.text, code: m.code,
      createdAt: new Date(this.now()).toISOString(),
    });
    this.out?.write(`[console ${m.channel}] to ${m.to}: ${m.text}\n`);
    return { providerMessageId: m.id };
  }
}
