/** Verifications: search an app's verifications by number, status or id; a verification's timeline (never its code). */
import { useState } from 'preact/hooks';
import { get, post, qs, type List, type TimelineEntry, type Verification } from '../api.js';
import { Empty, Field, Loading, Page, ProblemBox, Status, WithApp, fmt, useAction, useLoad } from '../ui.js';

const STATUSES = ['pending', 'verified', 'failed', 'expired', 'canceled'];

export function Verifications() {
  return <Page title="Verifications"><WithApp>{(app, picker) => <VerificationList appId={app.id} picker={picker} />}</WithApp></Page>;
}

function VerificationList({ appId, picker }: { appId: string; picker: preact.ComponentChildren }) {
  const [to, setTo] = useState('');
  const [status, setStatus] = useState('');
  const [query, setQuery] = useState({ to: '', status: '' });
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  const list = useLoad(() => get<List<Verification>>(`/admin/v1/apps/${appId}/verifications${qs({ to: query.to, status: query.status, limit: 25, cursor })}`), [appId, query, cursor]);
  const search = (e: Event) => {
    e.preventDefault();
    const v = to.trim();
    if (/^ver_[0-9A-Za-z]+$/.test(v)) {
      location.hash = `#/verifications/${appId}/${v}`;
      return;
    }
    setCursor(undefined);
    setQuery({ to: v, status });
  };
  return (
    <>
      <form class="filters" onSubmit={search} role="search" aria-label="Search verifications">
        {picker}
        <Field label="Phone number, email or verification id">
          <input type="search" value={to} placeholder="+33612345678 or ver_…" onInput={(e) => setTo((e.target as HTMLInputElement).value)} />
        </Field>
        <Field label="Status">
          <select value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value)}>
            <option value="">Any</option>{STATUSES.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </Field>
        <button type="submit">Search</button>
      </form>
      <ProblemBox error={list.error} />
      {list.loading && !list.data && <Loading what="verifications" />}
      {list.data && list.data.data.length === 0 && (
        <Empty title={query.to || query.status ? 'No verification matches' : 'No verification yet'}>
          {!(query.to || query.status) && <p>Start one with this app's API key: <code>POST /v1/verifications {'{"to": "+33612345678"}'}</code>.</p>}
        </Empty>
      )}
      {list.data && list.data.data.length > 0 && (
        <>
          <table>
            <caption>Newest first</caption>
            <thead><tr><th scope="col">Started</th><th scope="col">Recipient</th><th scope="col">Channel</th><th scope="col">Status</th><th scope="col">Tries</th><th scope="col">Sends</th><th scope="col"><span class="sr-only">Details</span></th></tr></thead>
            <tbody>
              {list.data.data.map((v) => (
                <tr key={v.id}>
                  <td>{fmt.date(v.createdAt)}</td><td>{v.to}</td><td>{v.channels.join(' → ')}</td><td><Status value={v.status} /></td>
                  <td>{v.attempts}/{v.maxAttempts}</td><td>{v.sends}</td>
                  <td><a href={`#/verifications/${appId}/${v.id}`} aria-label={`Timeline of ${v.id}`}>Timeline</a></td>
                </tr>
              ))}
            </tbody>
          </table>
          {list.data.nextCursor && <button type="button" class="secondary" onClick={() => setCursor(list.data!.nextCursor!)}>Older</button>}
        </>
      )}
    </>
  );
}

export function VerificationDetail({ appId, id }: { appId: string; id: string }) {
  const t = useLoad(() => get<{ verification: Verification; entries: TimelineEntry[] }>(`/admin/v1/apps/${appId}/verifications/${id}/timeline`), [appId, id]);
  const cancel = useAction();
  const v = t.data?.verification;
  return (
    <Page title={`Verification ${id}`} actions={<a href="#/verifications">Back to the list</a>}>
      <ProblemBox error={t.error ?? cancel.error} />
      {t.loading && !t.data && <Loading what="the timeline" />}
      {v && (
        <>
          <dl class="facts">
            <div><dt>Recipient</dt><dd>{v.to}</dd></div>
            <div><dt>Status</dt><dd><Status value={v.status} /></dd></div>
            <div><dt>Channels</dt><dd>{v.channels.join(' → ')}</dd></div>
            <div><dt>Tries</dt><dd>{v.attempts} of {v.maxAttempts}</dd></div>
            <div><dt>Sends</dt><dd>{v.sends}</dd></div>
            <div><dt>Expires</dt><dd>{fmt.date(v.expiresAt)}</dd></div>
          </dl>
          {v.status === 'pending' && (
            <button type="button" class="danger" disabled={cancel.busy}
              onClick={() => cancel.run(() => post(`/admin/v1/apps/${appId}/verifications/${id}/cancel`)).then((ok) => ok && t.reload())}>Cancel this verification</button>
          )}
          <h2>Timeline</h2>
          <ol class="timeline">
            {t.data!.entries.map((e, i) => (
              <li key={i} class={`tl tl-${e.kind}`}>
                <time dateTime={e.at}>{fmt.date(e.at)}</time>
                <span class="tl-kind">{e.kind}</span>
                {e.channel && <span class="muted">{e.channel}</span>}
                {e.provider && <span class="muted">via {e.provider}</span>}
                <span>{e.detail}</span>
              </li>
            ))}
          </ol>
          <p class="muted">The code is never shown: otpd keeps only its HMAC.</p>
        </>
      )}
    </Page>
  );
}
