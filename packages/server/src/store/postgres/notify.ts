/**
 * Nodes tell each other through LISTEN/NOTIFY on channel `otpd`: `outbox <node>` and `webhooks <node>` when work
 * became due, `app <node> <appId>` when an app's configuration changed (every cache forgets it). The listener's
 * connection is its own, outside the pool, and comes back by itself when it drops.
 */
import pg from 'pg';
import type { StoreHooks } from '../ports/index.js';
import type { EndpointCache } from '../event-fanout.js';
import { types, type TxCtx } from './connection.js';

export class Notifier {
  private listener: pg.Client | null = null;
  private listenRetry: NodeJS.Timeout | null = null;
  private listenerEverUp = false;
  private isClosed = false;
  private readonly pending = { outbox: false, webhooks: false };
  private readonly inFlight = { outbox: false, webhooks: false };

  /**
   * `node`: this process, in NOTIFY payloads (a node does not wake itself twice). `listen` false: neither listen
   * nor notify (tests of a single store).
   */
  constructor(private readonly pool: pg.Pool, private readonly url: string, private readonly node: string, private readonly listen: boolean,
    private readonly hooks: StoreHooks, private readonly endpoints: EndpointCache) {}

  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Tells other nodes that work is due. The local worker was already woken in-process, so this only has to reach
   * the others: at most one NOTIFY per kind in flight, and signals arriving meanwhile coalesce into one more.
   */
  signal(kind: 'outbox' | 'webhooks'): void {
    if (!this.listen || this.isClosed) return;
    if (this.inFlight[kind]) {
      this.pending[kind] = true;
      return;
    }
    this.inFlight[kind] = true;
    this.pool.query('SELECT pg_notify($1, $2)', ['otpd', `${kind} ${this.node}`]).catch(() => undefined).finally(() => {
      // Spaced out: under load one NOTIFY every few milliseconds is plenty for idle nodes to join in.
      setTimeout(() => {
        this.inFlight[kind] = false;
        if (this.pending[kind] && !this.isClosed) {
          this.pending[kind] = false;
          this.signal(kind);
        }
      }, 5).unref();
    });
  }

  /** Inside a transaction: other nodes' caches forget this app when it commits. */
  async appChanged(t: TxCtx, appId: string): Promise<void> {
    this.endpoints.forget(appId);
    await t.c.query('SELECT pg_notify($1, $2)', ['otpd', `app ${this.node} ${appId}`]);
  }

  async start(): Promise<void> {
    if (this.isClosed || !this.listen) return;
    const client = new pg.Client({ connectionString: this.url, types, application_name: 'otpd-listen', keepAlive: true });
    const retry = () => {
      if (this.listener === client) this.listener = null;
      client.removeAllListeners();
      client.on('error', () => undefined);
      client.end().catch(() => undefined);
      if (this.isClosed || this.listenRetry) return;
      this.listenRetry = setTimeout(() => {
        this.listenRetry = null;
        this.start().catch(() => undefined);
      }, 1_000);
      this.listenRetry.unref();
    };
    client.on('error', retry);
    client.on('end', retry);
    client.on('notification', (n) => this.onNotification(n.payload ?? ''));
    try {
      await client.connect();
      await client.query('LISTEN otpd');
    } catch {
      retry();
      return;
    }
    const reconnected = this.listener === null && this.listenerEverUp;
    this.listener = client;
    this.listenerEverUp = true;
    if (reconnected) {
      // Notifications sent while we were away are lost: forget every cache and look for due work.
      this.endpoints.clear();
      this.hooks.onAppChanged?.('*');
      this.hooks.onWork?.();
      this.hooks.onEvents?.();
    }
  }

  private onNotification(payload: string): void {
    const [kind, node, appId] = payload.split(' ');
    if (kind === 'app' && appId) {
      this.endpoints.forget(appId);
      this.hooks.onAppChanged?.(appId);
      return;
    }
    if (node === this.node) return;
    if (kind === 'outbox') this.hooks.onWork?.();
    else if (kind === 'webhooks') this.hooks.onEvents?.();
  }

  /** Stops listening and notifying for good. */
  async close(): Promise<void> {
    this.isClosed = true;
    if (this.listenRetry) clearTimeout(this.listenRetry);
    const l = this.listener;
    this.listener = null;
    if (l) {
      l.removeAllListeners();
      l.on('error', () => undefined);
      await l.end().catch(() => undefined);
    }
  }
}
