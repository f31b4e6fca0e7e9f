/** The dashboard: sign-in with the admin token (exchanged for a session cookie), then the pages, routed by the URL hash. */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Problem, request, session } from './api.js';
import { AppDetail, Apps } from './pages/apps.js';
import { Audit, Guard, Lockouts, Providers, Senders, Webhooks } from './pages/operations.js';
import { Overview } from './pages/overview.js';
import { Templates } from './pages/templates.js';
import { VerificationDetail, Verifications } from './pages/verifications.js';
import { Field, ProblemBox } from './ui.js';
import './styles.css';

const NAV = [
  ['overview', 'Overview'], ['verifications', 'Verifications'], ['apps', 'Apps'], ['templates', 'Templates'], ['senders', 'Senders'],
  ['providers', 'Providers'], ['webhooks', 'Webhooks'], ['guard', 'Guard'], ['lockouts', 'Lockouts'], ['audit', 'Audit log'],
] as const;

interface SessionView { signedIn: boolean; csrfToken: string | null }

function useHash(): string[] {
  const read = () => location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const [parts, setParts] = useState(read);
  useEffect(() => {
    const on = () => {
      setParts(read());
      document.getElementById('main')?.focus();
    };
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return parts;
}

function Route({ parts }: { parts: string[] }) {
  const [page, a, b] = parts;
  switch (page ?? 'overview') {
    case 'overview': return <Overview />;
    case 'verifications': return a && b ? <VerificationDetail appId={a} id={b} /> : <Verifications />;
    case 'apps': return a ? <AppDetail id={a} /> : <Apps />;
    case 'templates': return <Templates />;
    case 'senders': return <Senders />;
    case 'providers': return <Providers />;
    case 'webhooks': return <Webhooks />;
    case 'guard': return <Guard />;
    case 'lockouts': return <Lockouts />;
    case 'audit': return <Audit />;
    default: return <p>No page here. <a href="#/overview">Go to the overview</a>.</p>;
  }
}

function SignIn({ onIn }: { onIn: (s: SessionView) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  return (
    <main class="signin">
      <form onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setError(null);
        try {
          onIn(await request<SessionView>('POST', '/dashboard/api/session', { token: token.trim() }));
        } catch (err) {
          setError(err);
        } finally {
          setBusy(false);
        }
      }}>
        <h1>otpd</h1>
        <p>Sign in with the admin token (<code>OTPD_ADMIN_TOKEN</code>; in development it is in <code>data/admin-token</code>).</p>
        <Field label="Admin token">
          <input type="password" autocomplete="current-password" required value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} />
        </Field>
        <button type="submit" disabled={busy}>Sign in</button>
        <ProblemBox error={error} />
      </form>
    </main>
  );
}

function Shell() {
  const [state, setState] = useState<'loading' | 'in' | 'out'>('loading');
  const [error, setError] = useState<unknown>(null);
  const parts = useHash();
  const signedIn = (s: SessionView) => {
    session.set(s.csrfToken);
    setState(s.signedIn ? 'in' : 'out');
  };
  useEffect(() => {
    session.onSignedOut(() => { session.set(null); setState('out'); });
    request<SessionView>('GET', '/dashboard/api/session').then(signedIn, (e: unknown) => { setError(e); setState('out'); });
  }, []);
  if (state === 'loading') return <p role="status">Loading…</p>;
  if (state === 'out') return <><SignIn onIn={signedIn} />{error instanceof Problem && error.status === 0 ? <ProblemBox error={error} /> : null}</>;
  const current = parts[0] ?? 'overview';
  return (
    <div class="layout">
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>Skip to the content</a>
      <header class="top">
        <span class="brand">otpd</span>
        <button type="button" class="secondary small" onClick={async () => {
          await request('DELETE', '/dashboard/api/session').catch(() => undefined);
          session.set(null);
          setState('out');
        }}>Sign out</button>
      </header>
      <nav aria-label="Pages">
        <ul>{NAV.map(([k, label]) => <li key={k}><a href={`#/${k}`} aria-current={current === k ? 'page' : undefined}>{label}</a></li>)}</ul>
      </nav>
      <main id="main" tabIndex={-1}><Route parts={parts} /></main>
    </div>
  );
}

render(<Shell />, document.getElementById('root')!);
