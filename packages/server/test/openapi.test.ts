/**
 * The OpenAPI document as client generators and /docs read it (issue 18): an operationId on every operation, the
 * server, security on every operation (none on public routes), the outbound webhooks, request examples that
 * succeed, and a clean lint by Redocly's recommended rules.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../src/domain/events.js';
import { startHarness, type Harness } from './helpers.js';

let h: Harness;
let doc: { servers: unknown[]; paths: Record<string, Record<string, Record<string, any>>>; webhooks: Record<string, unknown> }; // eslint-disable-line @typescript-eslint/no-explicit-any
beforeAll(async () => {
  h = await startHarness();
  doc = (await h.req('GET', '/openapi.json', undefined, { key: null })).body;
});
afterAll(async () => { await h?.close(); });
const operations = () => Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })));

describe('the OpenAPI document', () => {
  it('names every operation once, says its security, and has a server', () => {
    const ids = operations().map((o) => o.op.operationId);
    expect(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z]+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(operations().filter((o) => !Array.isArray(o.op.security)).map((o) => `${o.method} ${o.path}`)).toEqual([]);
    for (const p of ['/healthz', '/readyz', '/oauth/token', '/webhooks/twilio/{provider}']) {
      expect(Object.values(doc.paths[p]!).every((op) => op.security.length === 0), p).toBe(true);
    }
    expect(doc.paths['/admin/v1/apps']!.get.security).toEqual([{ adminToken: [] }, { dashboardSession: [], csrfToken: [] }]);
    expect(doc.paths['/v1/verifications']!.post.security).toEqual([{ apiKey: [] }]);
    expect(doc.servers).toHaveLength(1);
    // Every 201 is named: a described answer whose schema is a component ($ref) or has a title.
    for (const { path, method, op } of operations().filter((o) => o.op.responses['201'])) {
      const r = op.responses['201'];
      expect(r.description, `${method} ${path}`).not.toBe('Default Response');
      const schema = r.content['application/json'].schema;
      expect(schema.$ref ?? schema.title, `${method} ${path}`).toBeTruthy();
    }
  });

  it('documents every webhook event otpd sends', () => {
    expect(Object.keys(doc.webhooks).sort()).toEqual([...EVENT_TYPES].sort());
  });

  it("the start's and the check's examples succeed as /docs' Try it out sends them", async () => {
    const example = doc.paths['/v1/verifications']!.post.requestBody.content['application/json'].example;
    const r = await h.req('POST', '/v1/verifications', example);
    expect(r.status, r.text).toBe(201);
    const check = doc.paths['/v1/verifications/{id}/check']!.post.requestBody.content['application/json'].example;
    expect((await h.req('POST', `/v1/verifications/${r.body.id}/check`, check)).status).toBe(200);
  });

  it('lints clean with Redocly (recommended rules: no error, no warning)', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'otpd-openapi-')), 'openapi.json');
    writeFileSync(file, JSON.stringify(doc));
    const bin = resolve(import.meta.dirname, '../../../node_modules/.bin/redocly');
    const env = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' };
    const out = await promisify(execFile)(bin, ['lint', file, '--extends', 'recommended', '--format', 'json'], { env, maxBuffer: 64 * 1024 * 1024 })
      .then((r) => r.stdout, (e: { stdout?: string }) => e.stdout ?? '');
    const report = JSON.parse(out.slice(out.indexOf('{'))) as { totals: { errors: number; warnings: number }; problems: { ruleId: string; message: string }[] };
    expect(report.problems.map((p) => `${p.ruleId}: ${p.message}`)).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
  }, 60_000);
});
