/** `/dev` routes: the console channel's inbox. Development only; in production every `/dev` path is a 404. */
import { OtpdError } from '../../domain/errors.js';
import type { DevInbox } from '../../delivery/dev-inbox.js';
import { parsePhone } from '../../domain/phone.js';
import { DevMessagesQuery, DevMessages, problems } from '../schemas.js';
import type { TypedApp } from './verifications.js';

/** Registers `GET /dev/messages` (or, without a dev inbox, a 404 for everything under `/dev`). */
export async function devRoutes(app: TypedApp, dev: { inbox: DevInbox; flush: (appId: string, to?: string) => Promise<void> } | undefined): Promise<void> {
  if (!dev) {
    app.all('/*', { schema: { hide: true } }, async () => {
      throw new OtpdError('not_found', 'Development routes do not exist in production');
    });
    return;
  }
  app.get('/messages', {
    schema: {
      tags: ['development'], security: [{ apiKey: [] }],
      summary: 'Messages the console channel "sent" (development only)',
      description: 'Newest first, with the code, so you can try the API without a phone. Waits until every message queued before the call was handed to the console channel.',
      querystring: DevMessagesQuery,
      response: { 200: DevMessages, ...problems(401) },
    },
  }, async (req) => {
    const { to } = req.query;
    // Wait only if this recipient has a message queued and not yet handed to the console channel.
    await dev.flush(req.app.id, to);
    const limit = req.query.limit ?? 50;
    const exact = dev.inbox.list(req.app.id, to, limit);
    if (exact.length > 0 || to === undefined || !to.startsWith('+')) return { messages: exact };
    // Not stored under that spelling: try its E.164 form (e.g. "+33 6 12 34 56 78").
    let e164: string;
    try { e164 = parsePhone(to).e164; } catch { return { messages: [] }; }
    return { messages: e164 === to ? [] : dev.inbox.list(req.app.id, e164, limit) };
  });
}
