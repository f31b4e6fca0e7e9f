/** Health, readiness and the problem-type documentation that every problem's `type` points at. */
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { ERRORS, OtpdError, isErrorCode } from '../../domain/errors.js';
import { problems } from '../schemas.js';

/** Registers `/healthz`, `/readyz` and `/problems/{code}`. */
export async function systemRoutes(app: FastifyInstance, ready: () => Promise<void>): Promise<void> {
  app.get('/healthz', {
    schema: { tags: ['system'], summary: 'Liveness: the process answers', response: { 200: Type.Object({ status: Type.Literal('ok') }) } },
  }, async () => ({ status: 'ok' as const }));

  app.get('/readyz', {
    schema: { tags: ['system'], summary: 'Readiness: the database answers and the server is not shutting down', response: { 200: Type.Object({ status: Type.Literal('ready') }) } },
  }, async () => {
    await ready();
    return { status: 'ready' as const };
  });

  app.get('/problems/:code', {
    schema: {
      tags: ['system'], summary: 'What a problem code means', params: Type.Object({ code: Type.String({ maxLength: 64 }) }),
      response: {
        200: Type.Object({ type: Type.String(), code: Type.String(), status: Type.Integer(), title: Type.String() }),
        ...problems(404),
      },
    },
  }, async (req) => {
    const { code } = req.params as { code: string };
    if (!isErrorCode(code)) throw new OtpdError('not_found', `No problem type ${code}`);
    return { type: `/problems/${code}`, code, status: ERRORS[code].status, title: ERRORS[code].title };
  });
}
