/**
 * Prometheus metrics (`GET /metrics`, prom-client), per node: PostgreSQL nodes are each scraped and Prometheus sums
 * them. Labels are bounded: route patterns (never raw URLs), status classes, channels, event names, provider names
 * (a connection is `connection:{type}`, never its id), guard rule ids. No phone number, no id, no code.
 *
 * Counted where things happen (the HTTP hook, the verification use cases, the delivery worker, the guard); the
 * backlogs (outbox, webhooks) and the database pool are read when scraped.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface Backlog {
  /** Due now and not yet handed over. */
  due: number;
  /** When the oldest of them became due (null: none). */
  oldestDueAt: number | null;
}

export interface MetricsSources {
  now(): number;
  outbox(): Promise<Backlog>;
  webhooks(): Promise<Backlog>;
  /** PostgreSQL: the pool's connections (null on SQLite). */
  pool(): { total: number; idle: number; waiting: number } | null;
}

/** Seconds: from a fast local answer to a slow provider. */
const LATENCY = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A provider's label: a server provider's name, or `connection:{type}` (connection ids would be unbounded). */
export const providerLabel = (p: { name: string; type: string }): string => (p.name.startsWith('con_') ? `connection:${p.type}` : p.name);

export class Metrics {
  readonly registry = new Registry();
  readonly http: Histogram<'route' | 'method' | 'status'>;
  readonly verifications: Counter<'event' | 'channel'>;
  readonly providerCalls: Counter<'provider' | 'outcome'>;
  readonly providerLatency: Histogram<'provider'>;
  readonly guardDecisions: Counter<'rule' | 'outcome'>;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'otpd_', eventLoopMonitoringPrecision: 20 });
    this.http = new Histogram({
      name: 'otpd_http_request_duration_seconds', help: 'HTTP requests by route pattern, method and status class', labelNames: ['route', 'method', 'status'], buckets: LATENCY, registers,
    });
    this.verifications = new Counter({
      name: 'otpd_verification_events_total', help: 'Verifications started, resent, checked (verified, wrong code, refused) and canceled, by channel', labelNames: ['event', 'channel'], registers,
    });
    this.providerCalls = new Counter({
      name: 'otpd_provider_calls_total', help: 'Provider calls by provider and outcome (accepted, rejected, transient, unknown, not_sent)', labelNames: ['provider', 'outcome'], registers,
    });
    this.providerLatency = new Histogram({
      name: 'otpd_provider_call_duration_seconds', help: 'Provider call latency', labelNames: ['provider'], buckets: LATENCY, registers,
    });
    this.guardDecisions = new Counter({
      name: 'otpd_guard_decisions_total', help: 'Guard decisions (refused, or flagged in shadow mode) by rule', labelNames: ['rule', 'outcome'], registers,
    });
    const backlog = (name: string, help: string, read: () => Promise<Backlog>) => {
      new Gauge({
        name: `otpd_${name}_due`, help: `${help}: due and not yet handed over`, registers,
        async collect() {
          this.set((await read()).due);
        },
      });
      new Gauge({
        name: `otpd_${name}_oldest_due_age_seconds`, help: `${help}: how long the oldest due one has waited (0: none)`, registers,
        async collect() {
          const b = await read();
          this.set(b.oldestDueAt === null ? 0 : Math.max(0, (sources.now() - b.oldestDueAt) / 1000));
        },
      });
    };
    backlog('outbox', 'Messages in the outbox', () => sources.outbox());
    backlog('webhook_deliveries', 'Webhook deliveries', () => sources.webhooks());
    new Gauge({
      name: 'otpd_db_pool_connections', help: 'PostgreSQL pool connections by state (total, idle, waiting clients)', labelNames: ['state'], registers,
      collect() {
        const p = sources.pool();
        if (!p) return;
        this.set({ state: 'total' }, p.total);
        this.set({ state: 'idle' }, p.idle);
        this.set({ state: 'waiting' }, p.waiting);
      },
    });
  }
}
