/** Shared pieces of the pages: loading data, showing problems, tables, the app picker, formatting. */
import { cloneElement, type ComponentChildren, type VNode } from 'preact';
import { useCallback, useEffect, useId, useState } from 'preact/hooks';
import { Problem, get, type App, type List } from './api.js';

/** Loads with `fn` whenever `deps` change; `reload` loads again. */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[]): { data: T | undefined; error: unknown; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({ data: undefined, error: null, loading: true });
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    fn().then((data) => live && setState({ data, error: null, loading: false }), (error: unknown) => live && setState({ data: undefined, error, loading: false }));
    return () => { live = false; };
  }, [...deps, n]); // eslint-disable-line react-hooks/exhaustive-deps
  return { ...state, reload: useCallback(() => setN((x) => x + 1), []) };
}

/** Runs an action, keeping its problem to show, and whether it runs. */
export function useAction(): { busy: boolean; error: unknown; run: (fn: () => Promise<unknown>) => Promise<boolean>; clear: () => void } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      return true;
    } catch (e) {
      setError(e);
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run, clear: () => setError(null) };
}

/** A form whose submission runs `onSubmit` as `act`'s action (its problem shown by the caller's ProblemBox). */
export function ActionForm({ act, onSubmit, inline, children }: { act: ReturnType<typeof useAction>; onSubmit: () => Promise<unknown>; inline?: boolean; children: ComponentChildren }) {
  return <form class={inline ? 'inline' : undefined} onSubmit={(e) => { e.preventDefault(); void act.run(onSubmit); }}>{children}</form>;
}

/** A problem as its title and detail (and the fields it names). */
export function ProblemBox({ error }: { error: unknown }) {
  if (!error) return null;
  const p = error instanceof Problem ? error : new Problem(0, 'error', 'Something went wrong', error instanceof Error ? error.message : String(error));
  return (
    <div class="problem" role="alert">
      <strong>{p.title}</strong>
      {p.detail && <p>{p.detail}</p>}
      {p.errors.length > 0 && <ul>{p.errors.map((e) => <li key={e.pointer}><code>{e.pointer}</code>: {e.detail}</li>)}</ul>}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return <p class="muted" role="status">Loading {what}…</p>;
}

/** What to do when a list is empty. */
export function Empty({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty">
      <p><strong>{title}</strong></p>
      {children}
    </div>
  );
}

export function Page({ title, actions, children }: { title: string; actions?: ComponentChildren; children: ComponentChildren }) {
  useEffect(() => { document.title = `${title} · otpd`; }, [title]);
  return (
    <section aria-labelledby="page-title">
      <header class="page-head">
        <h1 id="page-title">{title}</h1>
        {actions && <div class="actions">{actions}</div>}
      </header>
      {children}
    </section>
  );
}

export function Card({ title, children }: { title: string; children: ComponentChildren }) {
  return (
    <section class="card" aria-label={title}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

/** A labelled control: the label names it exactly (for="…"), the hint describes it. */
export function Field({ label, children, hint }: { label: string; children: VNode; hint?: string }) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {cloneElement(children, { id, ...(hint ? { 'aria-describedby': `${id}-hint` } : {}) })}
      {hint && <small id={`${id}-hint`} class="muted">{hint}</small>}
    </div>
  );
}

/** A secret shown once (a new API key, client secret or webhook secret), with a copy button. */
export function ShownOnce({ label, value, onDone }: { label: string; value: string; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <div class="once" role="status">
      <p><strong>{label}</strong>: copy it now, it is shown only once.</p>
      <code class="secret" data-testid="secret">{value}</code>
      <div class="row">
        <button type="button" onClick={() => navigator.clipboard?.writeText(value).then(() => setCopied(true), () => undefined)}>{copied ? 'Copied' : 'Copy'}</button>
        <button type="button" class="secondary" onClick={onDone}>Done</button>
      </div>
    </div>
  );
}

const APP_KEY = 'otpd.dashboard.app';

/** The apps, loaded once per page, and the one picked (kept across pages and visits). */
export function useApps(): { apps: App[] | undefined; error: unknown; appId: string; setAppId: (id: string) => void; reload: () => void } {
  const { data, error, reload } = useLoad(() => get<List<App>>('/admin/v1/apps'), []);
  const [appId, setApp] = useState<string>(() => localStorage.getItem(APP_KEY) ?? '');
  const apps = data?.data;
  useEffect(() => {
    if (apps && apps.length > 0 && !apps.some((a) => a.id === appId)) setApp(apps[0]!.id);
  }, [apps, appId]);
  const setAppId = (id: string) => {
    localStorage.setItem(APP_KEY, id);
    setApp(id);
  };
  return { apps, error, appId, setAppId, reload };
}

/** The app picker (`all`: an "All apps" choice, for the overview). */
export function AppPicker({ apps, value, onChange, all }: { apps: App[]; value: string; onChange: (id: string) => void; all?: boolean }) {
  return (
    <Field label="App">
      <select value={value} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
        {all && <option value="">All apps</option>}
        {apps.map((a) => <option key={a.id} value={a.id}>{a.name}{a.enabled ? '' : ' (disabled)'}</option>)}
      </select>
    </Field>
  );
}

/** The pages that work on one app: the picker, or what to do when there is no app yet. */
export function WithApp({ children }: { children: (app: App, picker: ComponentChildren) => ComponentChildren }) {
  const { apps, error, appId, setAppId } = useApps();
  if (error) return <ProblemBox error={error} />;
  if (!apps) return <Loading what="apps" />;
  if (apps.length === 0) {
    return <Empty title="No app yet">
      <p>Every verification belongs to an app. Create one on the <a href="#/apps">Apps</a> page: you get its API key there.</p>
    </Empty>;
  }
  const app = apps.find((a) => a.id === appId) ?? apps[0]!;
  return <>{children(app, <AppPicker apps={apps} value={app.id} onChange={setAppId} />)}</>;
}

export const fmt = {
  date: (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'medium', timeZone: 'UTC' }) + ' UTC' : '—'),
  day: (iso: string) => new Date(iso).toLocaleDateString('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' }),
  pct: (r: number | null | undefined) => (r === null || r === undefined ? '—' : `${(r * 100).toFixed(1)} %`),
  secs: (s: number | null | undefined) => (s === null || s === undefined ? '—' : s < 60 ? `${s.toFixed(s < 10 ? 1 : 0)} s` : `${(s / 60).toFixed(1)} min`),
  money: (n: number | null | undefined, currency = '') => (n === null || n === undefined ? '—' : `${n.toFixed(n !== 0 && Math.abs(n) < 1 ? 4 : 2)}${currency ? ` ${currency}` : ''}`),
  int: (n: number) => n.toLocaleString('en-GB'),
};

export function Status({ value }: { value: string }) {
  return <span class={`badge badge-${value}`}>{value}</span>;
}
