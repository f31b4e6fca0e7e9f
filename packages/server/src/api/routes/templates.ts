/** `/v1/templates` (seed 002): an app manages its own message templates with its API key. */
import { Type } from '@sinclair/typebox';
import { OtpdError } from '../../domain/errors.js';
import { CHANNEL, parseRecipient } from '../../domain/channels.js';
import { BUILTIN_LOCALES, builtinText, chooseLocale, renderTemplate } from '../../domain/template.js';
import { selectTemplate, type TemplatesService } from '../../services/templates.js';
import { ChannelSchema, problems } from '../schemas.js';
import type { TypedApp } from './verifications.js';

const apiKeySecurity = [{ apiKey: [] }];
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Optional(Type.Union([t, Type.Null()]));
const TemplateBody = Type.Object({
  channel: ChannelSchema,
  name: Type.String({ minLength: 1, maxLength: 100 }),
  locale: Nullable(Type.String({ maxLength: 35, description: 'Language this template is for (fr, fr-BE); null = any' })),
  country: Nullable(Type.String({ maxLength: 2, description: 'Destination country (ISO); null = any' })),
  prefix: Nullable(Type.String({ maxLength: 9, description: 'Destination number prefix, e.g. +32 or +3247; null = any' })),
  text: Type.String({ minLength: 1, maxLength: 1600, description: 'Must contain {{pin}} (or {code}); may use {{ttl}} (minutes) and {{app}}' }),
  subject: Nullable(Type.String({ maxLength: 200, description: 'Email only' })),
  html: Nullable(Type.String({ maxLength: 20_000, description: 'Email only; must contain {{pin}}' })),
}, { additionalProperties: false });
const TemplateOut = Type.Object({
  id: Type.String(), channel: ChannelSchema, name: Type.String(),
  locale: Type.Union([Type.String(), Type.Null()]), country: Type.Union([Type.String(), Type.Null()]), prefix: Type.Union([Type.String(), Type.Null()]),
  text: Type.String(), subject: Type.Union([Type.String(), Type.Null()]), html: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }), updatedAt: Type.String({ format: 'date-time' }),
});
const IdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });

/** Registers template routes on the authenticated `/v1` scope. */
export async function templateRoutes(app: TypedApp, svc: TemplatesService, opts: { security?: Record<string, string[]>[] } = {}): Promise<void> {
  const security = opts.security ?? apiKeySecurity;
  app.post('/templates', {
    schema: { tags: ['templates'], security, summary: 'Create a message template', body: TemplateBody, response: { 201: TemplateOut, ...problems(401, 422) } },
  }, async (req, reply) => reply.code(201).send(await svc.create(req.app, req.body, req.actor)));

  app.get('/templates', {
    schema: { tags: ['templates'], security, summary: "The app's templates", response: { 200: Type.Object({ data: Type.Array(TemplateOut) }), ...problems(401) } },
  }, async (req) => ({ data: (await svc.forApp(req.app.id)).map((t) => ({ ...t, createdAt: new Date(t.createdAt).toISOString(), updatedAt: new Date(t.updatedAt).toISOString() })) }));

  app.get('/templates/:id', {
    schema: { tags: ['templates'], security, summary: 'Get a template', params: IdParams, response: { 200: TemplateOut, ...problems(401, 404) } },
  }, async (req) => svc.get(req.app, req.params.id));

  app.put('/templates/:id', {
    schema: { tags: ['templates'], security, summary: 'Replace a template', params: IdParams, body: TemplateBody, response: { 200: TemplateOut, ...problems(401, 404, 422) } },
  }, async (req) => svc.update(req.app, req.params.id, req.body, req.actor));

  app.delete('/templates/:id', {
    schema: { tags: ['templates'], security, summary: 'Delete a template', params: IdParams, response: { 204: Type.Null(), ...problems(401, 404) } },
  }, async (req, reply) => {
    await svc.remove(req.app, req.params.id, req.actor);
    return reply.code(204).send(null);
  });

  app.post('/templates/preview', {
    schema: {
      tags: ['templates'], security,
      summary: 'Render the message a verification would send, with a sample code, its parts and its cost',
      description: 'Give a template id, or a text to try, or neither to see which template would be chosen for the destination and language.',
      body: Type.Object({
        channel: ChannelSchema,
        to: Type.String({ minLength: 1, maxLength: 254, description: 'Destination the selection and price depend on' }),
        template: Type.Optional(Type.String({ maxLength: 64 })),
        text: Type.Optional(Type.String({ minLength: 1, maxLength: 1600 })),
        locale: Type.Optional(Type.String({ maxLength: 35 })),
        codeLength: Type.Optional(Type.Integer({ minimum: 4, maximum: 10 })),
        ttl: Type.Optional(Type.Integer({ minimum: 60, maximum: 1800 })),
      }, { additionalProperties: false }),
      response: {
        200: Type.Object({
          templateId: Type.Union([Type.String(), Type.Null()]), text: Type.String(), encoding: Type.String(), parts: Type.Integer(),
          cost: Type.Number(), currency: Type.String(),
        }),
        ...problems(401, 422),
      },
    },
  }, async (req) => {
    const b = req.body;
    const dest = parseRecipient(CHANNEL[b.channel].recipient, b.to);
    let templateId: string | null = null;
    let text = b.text;
    if (text === undefined) {
      const t = selectTemplate(await svc.forApp(req.app.id), b.channel, { templateId: b.template, locale: b.locale, ...dest });
      templateId = t?.id ?? null;
      text = t?.text;
    } else if (!/\{\{\s*(pin|code)\s*\}\}|\{(code|pin)\}/.test(text)) {
      throw new OtpdError('invalid_request', 'text must contain the code placeholder {{pin}} (or {code})', { extensions: { errors: [{ pointer: '/text', detail: 'no code placeholder' }] } });
    }
    // No app template applies: the built-in text of the language that would be chosen.
    const ttlMinutes = Math.ceil((b.ttl ?? 300) / 60);
    text ??= builtinText(chooseLocale({ requested: b.locale, countryIso: dest.countryIso || undefined, appDefault: req.app.settings.defaultLocale, available: BUILTIN_LOCALES }), ttlMinutes);
    const sample = '7'.repeat(b.codeLength ?? 6);
    const rendered = renderTemplate(text, { pin: sample, ttlMinutes, app: req.app.settings.brandName ?? req.app.name });
    return { templateId, text: rendered, ...svc.measure(req.app, b.channel, rendered, dest.countryIso) };
  });
}
