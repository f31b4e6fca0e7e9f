/** The operator's pages: senders, providers, webhooks, the guard, lockouts and the audit log. */
import { useState } from 'preact/hooks';
import {
  del, get, patch, post, qs, type AuditEntry, type Block, type Connection, type Decision, type Delivery, type Endpoint, type GuardView, type List,
  type Lockout, type Sender,
} from '../api.js';
import { ActionForm, Card, Empty, Field, Loading, Page, ProblemBox, ShownOnce, Status, WithApp, fmt, useAction, useLoad } from '../ui.js';

export function Senders() {
  return <Page title="Senders"><WithApp>{(app, picker) => <SenderList appId={app.id} picker={picker} />}</WithApp></Page>;
}

function SenderList({ appId, picker }: { appId: string; picker: preact.ComponentChildren }) {
  const list = useLoad(() => get<List<Sender>>(`/admin/v1/apps/${appId}/senders`), [appId]);
  const [form, setForm] = useState({ channel: 'sms', value: '', country: '' });
  const act = useAction();
  return (
    <>
      <div class="filters">{picker}</div>
      <ActionForm inline act={act} onSubmit={async () => {
        await post(`/admin/v1/apps/${appId}/senders`, { channel: form.channel, value: form.value.trim(), ...(form.country ? { country: form.country.toUpperCase() } : {}) });
        setForm({ ...form, value: '' });
        list.reload();
      }}>
        <Field label="Channel"><select value={form.channel} onChange={(e) => setForm({ ...form, channel: (e.target as HTMLSelectElement).value })}>{['sms', 'whatsapp', 'voice', 'email'].map((c) => <option key={c}>{c}</option>)}</select></Field>
        <Field label="Sender" hint="Alphanumeric id, number or address"><input required value={form.value} onInput={(e) => setForm({ ...form, value: (e.target as HTMLInputElement).value })} /></Field>
        <Field label="Country" hint="Empty: every country"><input maxLength={2} size={4} value={form.country} onInput={(e) => setForm({ ...form, country: (e.target as HTMLInputElement).value })} /></Field>
        <button type="submit" disabled={act.busy}>Add sender</button>
      </ActionForm>
      <ProblemBox error={act.error ?? list.error} />
      {list.data?.data.length === 0 && <Empty title="No sender registered"><p>Messages go out under each provider's configured sender. Register one to choose it per channel and country.</p></Empty>}
      {list.data && list.data.data.length > 0 && (
        <table>
          <caption>Senders</caption>
          <thead><tr><th scope="col">Sender</th><th scope="col">Channel</th><th scope="col">Country</th><th scope="col">Added</th><th scope="col"><span class="sr-only">Action</span></th></tr></thead>
          <tbody>{list.data.data.map((s) => (
            <tr key={s.id}><th scope="row">{s.value}</th><td>{s.channel}</td><td>{s.country ?? 'any'}</td><td>{fmt.date(s.createdAt)}</td>
              <td><button type="button" class="danger small" aria-label={`Remove sender ${s.value}`} onClick={() => act.run(async () => { await del(`/admin/v1/apps/${appId}/senders/${s.id}`); list.reload(); })}>Remove</button></td></tr>
          ))}</tbody>
        </table>
      )}
    </>
  );
}

export function Providers() {
  const server = useLoad(() => get<List<Pick<Connection, 'name' | 'type' | 'channels' | 'health'>>>('/admin/v1/providers'), []);
  const shared = useLoad(() => get<List<Connection>>('/admin/v1/connections'), []);
  return (
    <Page title="Providers">
      <p class="muted">Health as this node's delivery worker sees it: the circuit opens after repeated failures and closes once a call succeeds again.</p>
      <ProblemBox error={server.error ?? shared.error} />
      {(server.loading || shared.loading) && !(server.data && shared.data) && <Loading what="providers" />}
      {server.data && (server.data.data.length > 0
        ? <ConnectionTable title="The server's providers (OTPD_PROVIDERS)" rows={server.data.data} />
        : <Empty title="The server has no provider of its own"><p>Set <code>OTPD_PROVIDERS</code>, or create connections through the admin API.</p></Empty>)}
      {shared.data && shared.data.data.length > 0 && <ConnectionTable title="Shared connections" rows={shared.data.data} />}
      <WithApp>{(app, picker) => <AppConnections appId={app.id} picker={picker} />}</WithApp>
    </Page>
  );
}

function AppConnections({ appId, picker }: { appId: string; picker: preact.ComponentChildren }) {
  const list = useLoad(() => get<List<Connection>>(`/admin/v1/apps/${appId}/connections`), [appId]);
  return (
    <Card title="The app's own connections">
      <div class="filters">{picker}</div>
      <ProblemBox error={list.error} />
      {list.data?.data.length === 0 && <Empty title="This app has no connection of its own"><p>It sends through the providers above. Add its own with <code>POST /admin/v1/apps/{'{id}'}/connections</code>.</p></Empty>}
      {list.data && list.data.data.length > 0 && <ConnectionTable title="Connections" rows={list.data.data} />}
    </Card>
  );
}

function ConnectionTable({ title, rows }: { title: string; rows: Pick<Connection, 'name' | 'type' | 'channels' | 'health'>[] }) {
  return (
    <table>
      <caption>{title}</caption>
      <thead><tr><th scope="col">Name</th><th scope="col">Type</th><th scope="col">Channels</th><th scope="col">Circuit</th><th scope="col">Last success</th><th scope="col">Last error</th></tr></thead>
      <tbody>{rows.map((c) => (
        <tr key={c.name}>
          <th scope="row">{c.name}</th><td>{c.type}</td><td>{c.channels.join(', ')}</td><td><Status value={c.health.circuit} /></td>
          <td>{fmt.date(c.health.lastSuccessAt)}</td><td>{c.health.lastError ? <span title={fmt.date(c.health.lastErrorAt)}>{c.health.lastError}</span> : '—'}</td>
        </tr>
      ))}</tbody>
    </table>
  );
}

export function Webhooks() {
  return <Page title="Webhooks"><WithApp>{(app, picker) => <WebhookPages appId={app.id} picker={picker} />}</WithApp></Page>;
}

function WebhookPages({ appId, picker }: { appId: string; picker: preact.ComponentChildren }) {
  const endpoints = useLoad(() => get<List<Endpoint>>(`/admin/v1/apps/${appId}/webhooks`), [appId]);
  const deliveries = useLoad(() => get<List<Delivery>>(`/admin/v1/apps/${appId}/webhook-deliveries${qs({ limit: 50 })}`), [appId]);
  const [url, setUrl] = useState('');
  const [secret, setSecret] = useState<string | null>(null);
  const act = useAction();
  return (
    <>
      <div class="filters">{picker}</div>
      <ActionForm inline act={act} onSubmit={async () => {
        setSecret((await post<{ secret: string }>(`/admin/v1/apps/${appId}/webhooks`, { url: url.trim() })).secret);
        setUrl('');
        endpoints.reload();
      }}>
        <Field label="Endpoint URL" hint="Receives every event, signed (Standard Webhooks)"><input type="url" required value={url} placeholder="https://example.com/otpd" onInput={(e) => setUrl((e.target as HTMLInputElement).value)} /></Field>
        <button type="submit" disabled={act.busy}>Add endpoint</button>
      </ActionForm>
      <ProblemBox error={act.error ?? endpoints.error ?? deliveries.error} />
      {secret && <ShownOnce label="Signing secret" value={secret} onDone={() => setSecret(null)} />}
      {endpoints.data?.data.length === 0 && <Empty title="No webhook endpoint"><p>Add one to hear of verifications as they are created, verified, failed or expired, and of deliveries.</p></Empty>}
      {endpoints.data && endpoints.data.data.length > 0 && (
        <table>
          <caption>Endpoints</caption>
          <thead><tr><th scope="col">URL</th><th scope="col">Events</th><th scope="col">State</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>{endpoints.data.data.map((w) => (
            <tr key={w.id}>
              <th scope="row">{w.url}</th><td>{w.events.length ? w.events.join(', ') : 'all'}</td><td><Status value={w.enabled ? 'enabled' : 'disabled'} />{w.disabledReason && <small> {w.disabledReason}</small>}</td>
              <td><div class="row">
                <button type="button" class="secondary small" onClick={() => act.run(async () => { await patch(`/admin/v1/apps/${appId}/webhooks/${w.id}`, { enabled: !w.enabled }); endpoints.reload(); })}>{w.enabled ? 'Disable' : 'Enable'}</button>
                <button type="button" class="danger small" onClick={() => confirm(`Delete the endpoint ${w.url}?`) && act.run(async () => { await del(`/admin/v1/apps/${appId}/webhooks/${w.id}`); endpoints.reload(); })}>Delete</button>
              </div></td>
            </tr>
          ))}</tbody>
        </table>
      )}
      {deliveries.data && deliveries.data.data.length > 0 && (
        <table>
          <caption>Latest deliveries</caption>
          <thead><tr><th scope="col">Created</th><th scope="col">URL</th><th scope="col">Status</th><th scope="col">Attempts</th><th scope="col">Last answer</th><th scope="col"><span class="sr-only">Action</span></th></tr></thead>
          <tbody>{deliveries.data.data.map((d) => (
            <tr key={d.id}>
              <td>{fmt.date(d.createdAt)}</td><td class="clip">{d.url}</td><td><Status value={d.status} /></td><td>{d.attempts}</td>
              <td>{d.lastStatusCode ?? d.lastError ?? '—'}</td>
              <td><button type="button" class="secondary small" aria-label={`Replay delivery ${d.id}`} onClick={() => act.run(async () => { await post(`/admin/v1/apps/${appId}/webhook-deliveries/${d.id}/replay`); deliveries.reload(); })}>Replay</button></td>
            </tr>
          ))}</tbody>
        </table>
      )}
    </>
  );
}

export function Guard() {
  return <Page title="Fraud guard"><WithApp>{(app, picker) => <GuardPage appId={app.id} picker={picker} />}</WithApp></Page>;
}

function GuardPage({ appId, picker }: { appId: string; picker: preact.ComponentChildren }) {
  const view = useLoad(() => get<GuardView>(`/admin/v1/apps/${appId}/guard`), [appId]);
  const blocks = useLoad(() => get<List<Block>>(`/admin/v1/apps/${appId}/guard/blocks`), [appId]);
  const decisions = useLoad(() => get<List<Decision>>(`/admin/v1/apps/${appId}/guard/decisions${qs({ limit: 50 })}`), [appId]);
  const act = useAction();
  const v = view.data;
  const change = (body: Record<string, string>) => act.run(async () => { await patch(`/admin/v1/apps/${appId}/guard`, body); view.reload(); });
  return (
    <>
      <div class="filters">{picker}</div>
      <ProblemBox error={act.error ?? view.error ?? blocks.error ?? decisions.error} />
      {v && (
        <form class="inline" aria-label="Guard settings" onSubmit={(e) => e.preventDefault()}>
          <Field label="Mode" hint="shadow records what it would refuse"><select value={v.mode} onChange={(e) => change({ mode: (e.target as HTMLSelectElement).value })}>{['enforce', 'shadow', 'off'].map((m) => <option key={m}>{m}</option>)}</select></Field>
          <Field label="Level"><select value={v.level} onChange={(e) => change({ level: (e.target as HTMLSelectElement).value })}>{['basic', 'standard', 'max'].map((m) => <option key={m}>{m}</option>)}</select></Field>
          <p class="muted">Spent today {fmt.money(v.spend.daily.spent, v.spend.currency)}{v.spend.daily.cap !== null ? ` of ${fmt.money(v.spend.daily.cap)}` : ''}; this month {fmt.money(v.spend.monthly.spent, v.spend.currency)}{v.spend.monthly.cap !== null ? ` of ${fmt.money(v.spend.monthly.cap)}` : ''}.</p>
        </form>
      )}
      {v && <AllowLists key={appId} appId={appId} allow={v.allow} onSaved={view.reload} />}
      <Card title="Blocks in force">
        {blocks.data?.data.length === 0 && <p class="muted">Nothing is blocked.</p>}
        {blocks.data && blocks.data.data.length > 0 && (
          <table>
            <caption>Blocked values</caption>
            <thead><tr><th scope="col">What</th><th scope="col">Value</th><th scope="col">Rule</th><th scope="col">Until</th><th scope="col"><span class="sr-only">Action</span></th></tr></thead>
            <tbody>{blocks.data.data.map((b) => (
              <tr key={`${b.dimension}|${b.value}|${b.rule}`}>
                <td>{b.dimension}</td><th scope="row">{b.value}</th><td>{b.rule} <small class="muted">{b.reason}</small></td><td>{fmt.date(b.blockedUntil)}</td>
                <td><button type="button" class="secondary small" aria-label={`Unblock ${b.dimension} ${b.value}`} onClick={() => act.run(async () => { await post(`/admin/v1/apps/${appId}/guard/unblock`, { dimension: b.dimension, value: b.value }); blocks.reload(); })}>Unblock</button></td>
              </tr>
            ))}</tbody>
          </table>
        )}
      </Card>
      <Card title="Latest decisions">
        {decisions.data?.data.length === 0 && <p class="muted">The guard has refused nothing.</p>}
        {decisions.data && decisions.data.data.length > 0 && (
          <table>
            <caption>Requests refused (or flagged in shadow mode)</caption>
            <thead><tr><th scope="col">When</th><th scope="col">Action</th><th scope="col">Outcome</th><th scope="col">Rules</th><th scope="col">Number</th><th scope="col">Address</th></tr></thead>
            <tbody>{decisions.data.data.map((d) => (
              <tr key={d.id}><td>{fmt.date(d.at)}</td><td>{d.action}</td><td><Status value={d.outcome} /></td><td>{d.rules.join(', ')}</td><td>{d.to ?? d.prefix ?? '—'}</td><td>{d.ip ?? '—'}</td></tr>
            ))}</tbody>
          </table>
        )}
      </Card>
    </>
  );
}

const ALLOW = [['numbers', 'Numbers', 'E.164 numbers no rule refuses (test numbers, QA)'], ['prefixes', 'Prefixes', 'e.g. +3247'], ['ips', 'Addresses', 'Addresses or CIDR ranges']] as const;

/** The guard's allow lists, one value per line. */
function AllowLists({ appId, allow, onSaved }: { appId: string; allow: GuardView['allow']; onSaved: () => void }) {
  const [text, setText] = useState(() => Object.fromEntries(ALLOW.map(([k]) => [k, (allow[k] ?? []).join('\n')])) as Record<string, string>);
  const [saved, setSaved] = useState(false);
  const act = useAction();
  return (
    <Card title="Allow lists">
      <ActionForm act={act} onSubmit={async () => {
        setSaved(false);
        await patch(`/admin/v1/apps/${appId}/guard`, { allow: Object.fromEntries(ALLOW.map(([k]) => [k, text[k]!.split('\n').map((x) => x.trim()).filter(Boolean)])) });
        setSaved(true);
        onSaved();
      }}>
        <div class="row">
          {ALLOW.map(([k, label, hint]) => (
            <Field key={k} label={label} hint={hint}>
              <textarea rows={4} value={text[k]} onInput={(e) => setText({ ...text, [k]: (e.target as HTMLTextAreaElement).value })} />
            </Field>
          ))}
        </div>
        <div class="row"><button type="submit" disabled={act.busy}>Save allow lists</button>{saved && <span role="status">Saved.</span>}</div>
      </ActionForm>
      <ProblemBox error={act.error} />
    </Card>
  );
}

export function Lockouts() {
  return <Page title="Lockouts"><WithApp>{(app, picker) => <LockoutList appId={app.id} picker={picker} />}</WithApp></Page>;
}

function LockoutList({ appId, picker }: { appId: string; picker: preact.ComponentChildren }) {
  const list = useLoad(() => get<List<Lockout>>(`/admin/v1/apps/${appId}/lockouts`), [appId]);
  const act = useAction();
  const [done, setDone] = useState<string | null>(null);
  return (
    <>
      <div class="filters">{picker}</div>
      <p class="muted">A number is locked after too many wrong codes or sends. Unblocking clears its lock, failures, sends and cooldown.</p>
      <ProblemBox error={act.error ?? list.error} />
      {done && <p role="status" class="ok">{done} is unblocked.</p>}
      {list.loading && !list.data && <Loading what="lockouts" />}
      {list.data?.data.length === 0 && <Empty title="No number is locked" />}
      {list.data && list.data.data.length > 0 && (
        <table>
          <caption>Locked numbers</caption>
          <thead><tr><th scope="col">Number</th><th scope="col">Reason</th><th scope="col">Until</th><th scope="col">Wrong codes</th><th scope="col">Sends</th><th scope="col"><span class="sr-only">Action</span></th></tr></thead>
          <tbody>{list.data.data.map((l) => (
            <tr key={l.to}>
              <th scope="row">{l.to}</th><td>{l.lockReason === 'attempts' ? 'too many wrong codes' : l.lockReason === 'sends' ? 'too many sends' : '—'}</td>
              <td>{fmt.date(l.lockedUntil)}</td><td>{l.failures}</td><td>{l.sends}</td>
              <td><button type="button" aria-label={`Unblock ${l.to}`} onClick={() => act.run(async () => { await del(`/admin/v1/apps/${appId}/lockouts/${encodeURIComponent(l.to)}`); setDone(l.to); list.reload(); })}>Unblock</button></td>
            </tr>
          ))}</tbody>
        </table>
      )}
    </>
  );
}

export function Audit() {
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  const list = useLoad(() => get<List<AuditEntry>>(`/admin/v1/audit${qs({ limit: 50, cursor })}`), [cursor]);
  return (
    <Page title="Audit log">
      <p class="muted">Every change made through the admin API or the dashboard, newest first.</p>
      <ProblemBox error={list.error} />
      {list.loading && !list.data && <Loading what="the audit log" />}
      {list.data?.data.length === 0 && <Empty title="Nothing changed yet" />}
      {list.data && list.data.data.length > 0 && (
        <>
          <table>
            <caption>Changes</caption>
            <thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">What</th><th scope="col">On</th><th scope="col">App</th></tr></thead>
            <tbody>{list.data.data.map((a) => (
              <tr key={a.id}><td>{fmt.date(a.at)}</td><td>{a.actor}</td><th scope="row">{a.action}</th><td>{a.targetType} <code>{a.targetId}</code></td><td>{a.appId ? <code>{a.appId}</code> : '—'}</td></tr>
            ))}</tbody>
          </table>
          {list.data.nextCursor && <button type="button" class="secondary" onClick={() => setCursor(list.data!.nextCursor!)}>Older</button>}
        </>
      )}
    </Page>
  );
}
