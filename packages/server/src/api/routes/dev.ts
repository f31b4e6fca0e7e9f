/** `/dev` routes: the console channel's inbox. Development only; in production every `/dev` path is a 404. */
import { OtpdError } from '../../domain/errors.js';
import type { DevInbox } from '../../delivery/dev-inbox.js';
import { parsePhone } from '../../domain/phone.js';
import { DevMessagesQuery, DevMessages, problems } from '../schemas.js';
import type { TypedApp } from './verifications.js';

/** Registers `GET /dev/messages` (or, without a dev inbox, a 404 for everything under `/dev`). */
export async function devRoutes(app: TypedApp, dev: { inbox: DevInbox; flush: () => Promise<void> } | undefined): Promise<void> {
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
    await dev.flush();
    let to = req.query.to;
    if (to !== undefined && to.startsWith('+')) {
      try { to = parsePhone(to).e164; } catch { /* not a phone: match as given */ }
    }
    return { messages: dev.inbox.list(req.app.id, to, req.query.limit ?? 50) };
  });
}
