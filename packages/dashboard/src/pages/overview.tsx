/** Overview: the analytics summary and daily (or hourly) series, for all apps or one, with filters. */
import { useMemo, useState } from 'preact/hooks';
import { get, qs, type Series, type Summary } from '../api.js';
import { Chart, color } from '../chart.js';
import { AppPicker, Empty, Field, Loading, Page, ProblemBox, fmt, useApps, useLoad } from '../ui.js';

const RANGES = [['1', 'Last 24 hours'], ['7', 'Last 7 days'], ['30', 'Last 30 days'], ['90', 'Last 90 days']] as const;
const GROUPS = [['none', 'Nothing'], ['channel', 'Channel'], ['country', 'Country'], ['provider', 'Provider'], ['app', 'App']] as const;

function Kpi({ label, value, note }: { label: string; value: string; note?: string }) {
  return (
    <div class="kpi">
      <span class="kpi-label">{label}</span>
      <span class="kpi-value">{value}</span>
      {note && <span class="kpi-note">{note}</span>}
    </div>
  );
}

export function Overview() {
  const { apps, error: appsError, reload } = useApps();
  const [appId, setAppId] = useState('');
  const [days, setDays] = useState('30');
  const [groupBy, setGroupBy] = useState('none');
  const [country, setCountry] = useState('');
  const [channel, setChannel] = useState('');
  const filter = { app: appId, country: country.trim().toUpperCase() || undefined, channel: channel || undefined };
  const interval = days === '1' ? 'hour' : 'day';
  // The last N days by the server's clock.
  const range = useMemo(() => ({ days: Number(days) }), [days]);
  const summary = useLoad(() => get<Summary>(`/admin/v1/analytics/summary${qs({ ...range, ...filter })}`), [range, appId, country, channel]);
  const series = useLoad(() => get<Series>(`/admin/v1/analytics/series${qs({ ...range, ...filter, interval, groupBy, limit: 8 })}`), [range, appId, country, channel, groupBy]);
  const s = summary.data;
  const times = series.data?.series[0]?.points.map((p) => Date.parse(p.t)) ?? [];
  const lines = (pick: (p: Series['series'][number]['points'][number]) => number | null, name: string) =>
    (series.data?.series ?? []).map((g, i) => ({ label: groupBy === 'none' ? name : g.group || '(none)', color: color(i), values: g.points.map(pick) }));
  const single = groupBy === 'none' && series.data?.series[0];

  return (
    <Page title="Overview" actions={<button type="button" class="secondary" onClick={() => { summary.reload(); series.reload(); reload(); }}>Refresh</button>}>
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filters">
        {apps && <AppPicker apps={apps} value={appId} onChange={setAppId} all />}
        <Field label="Period">
          <select value={days} onChange={(e) => setDays((e.target as HTMLSelectElement).value)}>{RANGES.map(([v, l]) => <option key={v} value={v}>{l}</option>)}</select>
        </Field>
        <Field label="Channel">
          <select value={channel} onChange={(e) => setChannel((e.target as HTMLSelectElement).value)}>
            <option value="">All channels</option>{['sms', 'whatsapp', 'voice', 'email'].map((c) => <option key={c} value={c}>{c}</option>)}
          </select>
        </Field>
        <Field label="Country (ISO)">
          <input value={country} maxLength={2} size={4} placeholder="FR" onChange={(e) => setCountry((e.target as HTMLInputElement).value)} />
        </Field>
        <Field label="Compare by">
          <select value={groupBy} onChange={(e) => setGroupBy((e.target as HTMLSelectElement).value)}>{GROUPS.map(([v, l]) => <option key={v} value={v}>{l}</option>)}</select>
        </Field>
      </form>
      <ProblemBox error={appsError ?? summary.error ?? series.error} />
      {apps && apps.length === 0 && (
        <Empty title="Nothing to show yet">
          <p>Create an app on the <a href="#/apps">Apps</a> page, then start a verification with its key:</p>
          <pre><code>{`curl -X POST ${location.origin}/v1/verifications \\\n  -H "Authorization: Bearer <api key>" -H "Content-Type: application/json" \\\n  -d '{"to": "+33612345678"}'`}</code></pre>
        </Empty>
      )}
      {!s && summary.loading && <Loading what="figures" />}
      {s && apps && apps.length > 0 && (
        <>
          <div class="kpis" aria-label="Key figures">
            <Kpi label="Verifications started" value={fmt.int(s.verifications.started)} note={`${fmt.int(s.verifications.pending)} pending`} />
            <Kpi label="Verified" value={fmt.int(s.verifications.verified)} note={`conversion ${fmt.pct(s.verifications.conversionRate)}`} />
            <Kpi label="Time to verify" value={fmt.secs(s.verifications.timeToVerify.p50)} note={`p95 ${fmt.secs(s.verifications.timeToVerify.p95)}`} />
            <Kpi label="Messages sent" value={fmt.int(s.messages.sent)} note={`${fmt.int(s.messages.failed)} failed, ${fmt.int(s.messages.fallbacks)} fallbacks`} />
            <Kpi label="Delivery rate" value={fmt.pct(s.messages.deliveryRate)} note={`to deliver: p50 ${fmt.secs(s.messages.timeToDeliver.p50)}`} />
            <Kpi label="Cost" value={fmt.money(s.cost.total)} note={`${fmt.money(s.cost.perVerified)} per verified`} />
            <Kpi label="Guard refusals" value={fmt.int(s.guard.refused)} note={`saved ${fmt.money(s.guard.costSaved)}`} />
          </div>
          {s.verifications.started === 0 && s.guard.refused === 0 && (
            <Empty title="No verification in this period">
              <p>Figures appear here within a second of each verification. Widen the period, or start one with an app's API key.</p>
            </Empty>
          )}
        </>
      )}
      {series.data && times.length > 0 && apps && apps.length > 0 && (
        <div class="charts">
          {single ? (
            <Chart title={`Verifications per ${interval}`} times={times} lines={[
              { label: 'Started', color: color(0), values: single.points.map((p) => p.started) },
              { label: 'Verified', color: color(1), values: single.points.map((p) => p.verified) },
              { label: 'Refused by the guard', color: color(4), values: single.points.map((p) => p.refused) },
            ]} />
          ) : <Chart title={`Verifications started per ${interval}`} times={times} lines={lines((p) => p.started, 'Started')} />}
          <Chart title="Conversion rate" unit="%" times={times} lines={lines((p) => p.conversionRate, 'Conversion')} />
          <Chart title={`Cost per ${interval}`} times={times} lines={lines((p) => p.cost, 'Cost')} />
          <Chart title="Median time to verify" unit="s" times={times} lines={lines((p) => p.timeToVerifyP50, 'p50')} />
        </div>
      )}
      {s && s.channels.length + s.providers.length > 0 && (
        <div class="grid2">
          <table>
            <caption>Delivery by channel</caption>
            <thead><tr><th scope="col">Channel</th><th scope="col">Sent</th><th scope="col">Failed</th><th scope="col">Delivered</th><th scope="col">Delivery rate</th><th scope="col">Fallbacks</th></tr></thead>
            <tbody>{s.channels.map((c) => <tr key={c.channel}><th scope="row">{c.channel}</th><td>{fmt.int(c.sent)}</td><td>{fmt.int(c.failed)}</td><td>{fmt.int(c.delivered)}</td><td>{fmt.pct(c.deliveryRate)}</td><td>{fmt.int(c.fallbacks)}</td></tr>)}</tbody>
          </table>
          <table>
            <caption>Delivery by provider</caption>
            <thead><tr><th scope="col">Provider</th><th scope="col">Sent</th><th scope="col">Failed</th><th scope="col">Delivery rate</th><th scope="col">Time to deliver (p50 / p95)</th></tr></thead>
            <tbody>{s.providers.map((p) => <tr key={p.provider}><th scope="row">{p.provider}</th><td>{fmt.int(p.sent)}</td><td>{fmt.int(p.failed)}</td><td>{fmt.pct(p.deliveryRate)}</td><td>{fmt.secs(p.timeToDeliver.p50)} / {fmt.secs(p.timeToDeliver.p95)}</td></tr>)}</tbody>
          </table>
        </div>
      )}
    </Page>
  );
}
