/**
 * "Something was committed" across processes: a dedicated connection LISTENs on the outbox
 * channel, and every event-writing transaction of any replica NOTIFYs it (outbox.ts; PostgreSQL
 * delivers a notification only once its transaction commits). A notification names the schema
 * and the store instance it came from: other schemas' are ignored, and so are this instance's
 * own, whose listeners the store already told right after the commit.
 *
 * When the connection drops, it is made again (backing off up to `maxBackoffMs`), and the
 * listeners are told once it is back: commits made meanwhile were not heard, so readers catch up.
 */
import type { Client, Notification } from 'pg';
import { OUTBOX_CHANNEL } from './outbox';

export interface CommitNotificationsOptions {
  connect: () => Client;
  /** The store's schema and instance, as its commits name them (notifyPayload). */
  schema: string;
  instance: string;
  /** Called for every commit of another instance, and once after each reconnection. */
  wake: () => void;
  maxBackoffMs?: number;
}

/** The NOTIFY payload of a commit by `instance` in `schema`. */
export function notifyPayload(schema: string, instance: string): string {
  return `${schema}/${instance}`;
}

export class CommitNotifications {
  private client: Client | undefined;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;
  private backoffMs = 0;
  private pid: number | undefined;

  constructor(private readonly options: CommitNotificationsOptions) {}

  /** Connects and LISTENs; fails when the database cannot be reached (init() fails with it). */
  async start(): Promise<void> {
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    if (client) await client.end().catch(() => undefined);
  }

  /** The backend pid of the LISTEN connection (tests cut it to check the reconnection). */
  get backendPid(): number | undefined {
    return this.client === undefined ? undefined : this.pid;
  }

  private async connect(): Promise<void> {
    const client = this.options.connect();
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    client.on('notification', (message: Notification) => this.heard(message));
    try {
      await client.connect();
      await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
      this.pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
    } catch (err) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.backoffMs = 0;
  }

  private heard(message: Notification): void {
    const payload = message.payload ?? '';
    const prefix = `${this.options.schema}/`;
    if (!payload.startsWith(prefix) || payload === notifyPayload(this.options.schema, this.options.instance)) return;
    this.options.wake();
  }

  private lost(client: Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.removeAllListeners('end');
    void client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.retry) return;
    this.backoffMs = Math.min(Math.max(this.backoffMs * 2, 100), this.options.maxBackoffMs ?? 5000);
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.connect().then(
        () => {
          if (!this.stopped) this.options.wake();
        },
        () => this.scheduleReconnect(),
      );
    }, this.backoffMs);
    this.retry.unref();
  }
}
