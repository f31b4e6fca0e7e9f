/** Apps: create one (its first key shown once), and per app its settings, API keys and OAuth clients. */
import { useState } from 'preact/hooks';
import { del, get, patch, post, type ApiKey, type App, type Client, type List } from '../api.js';
import { ActionForm, Card, Empty, Field, Loading, Page, ProblemBox, ShownOnce, Status, fmt, useAction, useLoad } from '../ui.js';

export function Apps() {
  const apps = useLoad(() => get<List<App>>('/admin/v1/apps'), []);
  const [name, setName] = useState('');
  const [created, setCreated] = useState<{ app: App; apiKey: { apiKey: string } } | null>(null);
  const create = useAction();
  return (
    <Page title="Apps">
      <ActionForm inline act={create} onSubmit={async () => {
        setCreated(await post('/admin/v1/apps', { name: name.trim() }));
        setName('');
        apps.reload();
      }}>
        <Field label="New app's name"><input required maxLength={100} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} /></Field>
        <button type="submit" disabled={create.busy}>Create app</button>
      </ActionForm>
      <ProblemBox error={create.error ?? apps.error} />
      {created && <ShownOnce label={`API key of ${created.app.name}`} value={created.apiKey.apiKey} onDone={() => setCreated(null)} />}
      {apps.loading && !apps.data && <Loading what="apps" />}
      {apps.data?.data.length === 0 && <Empty title="No app yet"><p>An app holds verifications, API keys and settings. Create the first one above.</p></Empty>}
      {apps.data && apps.data.data.length > 0 && (
        <table>
          <caption>Apps</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Id</th><th scope="col">State</th><th scope="col">Created</th></tr></thead>
          <tbody>{apps.data.data.map((a) => (
            <tr key={a.id}><th scope="row"><a href={`#/apps/${a.id}`}>{a.name}</a></th><td><code>{a.id}</code></td><td><Status value={a.enabled ? 'enabled' : 'disabled'} /></td><td>{fmt.date(a.createdAt)}</td></tr>
          ))}</tbody>
        </table>
      )}
    </Page>
  );
}

export function AppDetail({ id }: { id: string }) {
  const app = useLoad(() => get<App>(`/admin/v1/apps/${id}`), [id]);
  return (
    <Page title={app.data ? app.data.name : 'App'} actions={<a href="#/apps">All apps</a>}>
      <ProblemBox error={app.error} />
      {app.data && <>
        <Settings app={app.data} onSaved={app.reload} />
        <Keys appId={id} />
        <Clients appId={id} />
      </>}
    </Page>
  );
}

function Settings({ app, onSaved }: { app: App; onSaved: () => void }) {
  const [text, setText] = useState(() => JSON.stringify(app.settings, null, 2));
  const [saved, setSaved] = useState(false);
  const save = useAction();
  return (
    <Card title="Settings">
      <p class="muted">The app's defaults (a request may override them within their ranges): a JSON merge patch, <code>null</code> resets a setting.</p>
      <ActionForm act={save} onSubmit={async () => {
        setSaved(false);
        let settings: unknown;
        try {
          settings = JSON.parse(text);
        } catch (err) {
          throw new Error(`The settings are not valid JSON: ${(err as Error).message}`);
        }
        await patch(`/admin/v1/apps/${app.id}`, { settings });
        setSaved(true);
        onSaved();
      }}>
        <Field label="Settings (JSON)"><textarea rows={10} spellcheck={false} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} /></Field>
        <div class="row">
          <button type="submit" disabled={save.busy}>Save settings</button>
          <button type="button" class="secondary" onClick={() => save.run(async () => { await patch(`/admin/v1/apps/${app.id}`, { enabled: !app.enabled }); onSaved(); })}>
            {app.enabled ? 'Disable the app' : 'Enable the app'}
          </button>
          {saved && <span role="status">Saved.</span>}
        </div>
      </ActionForm>
      <ProblemBox error={save.error} />
    </Card>
  );
}

function Keys({ appId }: { appId: string }) {
  const keys = useLoad(() => get<List<ApiKey>>(`/admin/v1/apps/${appId}/keys`), [appId]);
  const [name, setName] = useState('');
  const [shown, setShown] = useState<string | null>(null);
  const act = useAction();
  return (
    <Card title="API keys">
      <ActionForm inline act={act} onSubmit={async () => {
        setShown((await post<{ apiKey: string }>(`/admin/v1/apps/${appId}/keys`, { name: name.trim() })).apiKey);
        setName('');
        keys.reload();
      }}>
        <Field label="Key name"><input required maxLength={100} value={name} placeholder="backend-prod" onInput={(e) => setName((e.target as HTMLInputElement).value)} /></Field>
        <button type="submit" disabled={act.busy}>Create key</button>
      </ActionForm>
      <ProblemBox error={act.error ?? keys.error} />
      {shown && <ShownOnce label="New API key" value={shown} onDone={() => setShown(null)} />}
      {keys.data && (
        <table>
          <caption>Keys (only their first characters are kept readable)</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Starts with</th><th scope="col">Last used</th><th scope="col">State</th><th scope="col"><span class="sr-only">Action</span></th></tr></thead>
          <tbody>{keys.data.data.map((k) => (
            <tr key={k.id}>
              <th scope="row">{k.name}</th><td><code>{k.prefix}…</code></td><td>{fmt.date(k.lastUsedAt)}</td>
              <td><Status value={k.revokedAt ? 'revoked' : 'active'} /></td>
              <td>{!k.revokedAt && <button type="button" class="danger small" aria-label={`Revoke key ${k.name}`}
                onClick={() => confirm(`Revoke the key ${k.name}? Requests with it fail at once.`) && act.run(async () => { await del(`/admin/v1/apps/${appId}/keys/${k.id}`); keys.reload(); })}>Revoke</button>}</td>
            </tr>
          ))}</tbody>
        </table>
      )}
    </Card>
  );
}

function Clients({ appId }: { appId: string }) {
  const clients = useLoad(() => get<List<Client>>(`/admin/v1/apps/${appId}/clients`), [appId]);
  const [name, setName] = useState('');
  const [shown, setShown] = useState<{ id: string; clientSecret: string } | null>(null);
  const act = useAction();
  return (
    <Card title="OAuth clients">
      <p class="muted">For backends that exchange client credentials for short-lived tokens (<code>POST /oauth/token</code>).</p>
      <ActionForm inline act={act} onSubmit={async () => {
        setShown(await post(`/admin/v1/apps/${appId}/clients`, { name: name.trim() }));
        setName('');
        clients.reload();
      }}>
        <Field label="Client name"><input required maxLength={100} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} /></Field>
        <button type="submit" disabled={act.busy}>Create client</button>
      </ActionForm>
      <ProblemBox error={act.error ?? clients.error} />
      {shown && <ShownOnce label={`Secret of client ${shown.id}`} value={shown.clientSecret} onDone={() => setShown(null)} />}
      {clients.data && clients.data.data.length > 0 && (
        <table>
          <caption>Clients</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">client_id</th><th scope="col">Last used</th><th scope="col">State</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>{clients.data.data.map((c) => (
            <tr key={c.id}>
              <th scope="row">{c.name}</th><td><code>{c.id}</code></td><td>{fmt.date(c.lastUsedAt)}</td><td><Status value={c.revokedAt ? 'revoked' : 'active'} /></td>
              <td>{!c.revokedAt && <div class="row">
                <button type="button" class="secondary small" onClick={() => act.run(async () => { setShown(await post(`/admin/v1/apps/${appId}/clients/${c.id}/rotate`)); clients.reload(); })}>Rotate secret</button>
                <button type="button" class="danger small" onClick={() => confirm(`Revoke the client ${c.name}?`) && act.run(async () => { await del(`/admin/v1/apps/${appId}/clients/${c.id}`); clients.reload(); })}>Revoke</button>
              </div>}</td>
            </tr>
          ))}</tbody>
        </table>
      )}
    </Card>
  );
}
