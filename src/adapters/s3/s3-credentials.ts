/**
 * The credentials an S3 backend signs with: static keys, or temporary ones from a provider
 * (by default the AWS SDK's provider chain: environment, shared files, SSO, web identity,
 * container and instance roles), so IAM roles work without keys in any file.
 *
 * URLs are presigned on the hot path of every segment page, which cannot wait for a provider:
 * the credentials are resolved once before the store serves (`start`) and then refreshed in
 * the background, halfway through their remaining lifetime, so `current()` is a field read.
 * A presigned URL stops working when the session that signed it ends, so refreshing early
 * keeps every URL handed out valid for at least half a session. A refresh that fails is
 * retried (the old credentials stay in use until they expire); once they have expired,
 * `current()` throws `unavailable` rather than hand out URLs that S3 would refuse.
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { TamsError } from '../../domain/errors';
import type { S3Credentials } from './sigv4-presigner';

/** Credentials as a provider returns them: with an expiry when temporary. */
export interface ProvidedCredentials extends S3Credentials {
  expiration?: Date;
}

/** A source of temporary credentials (the SDK's providers have this shape). */
export type S3CredentialsProvider = (options?: { forceRefresh?: boolean }) => Promise<ProvidedCredentials>;

export interface S3CredentialsKeeperOptions {
  /** The backend's label, for messages. */
  label: string;
  /** Static credentials, a provider, or undefined for the SDK's default provider chain. */
  source: S3Credentials | S3CredentialsProvider | undefined;
  /** Called with each new set of credentials (the presigner swaps them in). */
  onChange: (credentials: S3Credentials) => void;
  /** Told of each background refresh that failed (it is retried). */
  onRefreshError?: (error: unknown) => void;
  /** Milliseconds since the epoch. */
  now: () => number;
}

/** Never sooner: a provider handing out nearly expired credentials must not spin. */
const MIN_REFRESH_MS = 1000;
/** setTimeout's longest delay. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class S3CredentialsKeeper {
  private readonly provider: S3CredentialsProvider | undefined;
  private credentials: ProvidedCredentials | undefined;
  private starting: Promise<void> | undefined;
  private refreshing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: S3CredentialsKeeperOptions) {
    const { source } = options;
    if (typeof source === 'function') this.provider = source;
    else if (source === undefined) this.provider = defaultProvider();
    else this.accept(source);
  }

  /** Resolves the first credentials (idempotent); rejects naming the backend when there are none. */
  start(): Promise<void> {
    if (this.credentials !== undefined) return Promise.resolve();
    const provider = this.provider;
    if (provider === undefined) return Promise.resolve();
    this.starting ??= provider()
      .then((credentials) => {
        this.accept(credentials);
        this.schedule();
      })
      .catch((error: unknown) => {
        this.starting = undefined;
        const why = error instanceof Error ? error.message : String(error);
        throw new Error(`S3 storage backend '${this.options.label}': no credentials (${why})`);
      });
    return this.starting;
  }

  /** The credentials to sign with now: synchronous, for the hot path. */
  current(): S3Credentials {
    const credentials = this.credentials;
    if (credentials === undefined) {
      throw new Error(`S3 storage backend '${this.options.label}': credentials are not resolved yet (await init() before serving)`);
    }
    if (credentials.expiration !== undefined && credentials.expiration.getTime() <= this.options.now()) {
      void this.refresh();
      throw new TamsError('unavailable', `Storage backend '${this.options.label}': its credentials expired and could not be refreshed yet`);
    }
    return credentials;
  }

  /** For the SDK client: the current credentials, waiting for a refresh only when they have expired. */
  async identity(): Promise<ProvidedCredentials> {
    await this.start();
    const credentials = this.credentials;
    if (credentials?.expiration !== undefined && credentials.expiration.getTime() <= this.options.now()) await this.refresh();
    if (this.credentials === undefined) throw new Error(`S3 storage backend '${this.options.label}': no credentials`);
    return this.credentials;
  }

  /** Stops refreshing (shutdown). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Asks the provider for fresh credentials (one request at a time); keeps the old ones on failure. */
  private refresh(): Promise<void> {
    const provider = this.provider;
    if (provider === undefined || this.stopped) return Promise.resolve();
    this.refreshing ??= provider({ forceRefresh: true })
      .then((credentials) => this.accept(credentials))
      .catch((error: unknown) => this.options.onRefreshError?.(error))
      .finally(() => {
        this.refreshing = undefined;
        this.schedule();
      });
    return this.refreshing;
  }

  private accept(credentials: ProvidedCredentials): void {
    if (typeof credentials.accessKeyId !== 'string' || credentials.accessKeyId === '' || typeof credentials.secretAccessKey !== 'string' || credentials.secretAccessKey === '') {
      throw new Error(`S3 storage backend '${this.options.label}': credentials need an access key id and a secret access key`);
    }
    const { accessKeyId, secretAccessKey, sessionToken, expiration } = credentials;
    this.credentials = {
      accessKeyId,
      secretAccessKey,
      ...(sessionToken === undefined || sessionToken === '' ? {} : { sessionToken }),
      ...(expiration === undefined ? {} : { expiration }),
    };
    this.options.onChange(this.credentials);
  }

  /** The next refresh, halfway to the expiry (or sooner after a failure); none for credentials that do not expire. */
  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const expiration = this.credentials?.expiration;
    if (this.stopped || expiration === undefined) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(MIN_REFRESH_MS, (expiration.getTime() - this.options.now()) / 2));
    this.timer = setTimeout(() => void this.refresh(), delay);
    // A pending refresh never keeps the process alive.
    this.timer.unref();
  }
}
