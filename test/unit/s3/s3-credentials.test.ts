/**
 * S3CredentialsKeeper (src/adapters/s3/s3-credentials.ts) on a fake clock: static credentials
 * as they are; temporary ones resolved once at start, refreshed in the background halfway to
 * their expiry (never on the signing path), kept when a refresh fails, refused once expired.
 * The SDK's default chain against a real process provider is in
 * test/integration/s3-credentials.test.ts.
 */
import { S3CredentialsKeeper, type ProvidedCredentials } from '../../../src/adapters/s3/s3-credentials';
import type { S3Credentials } from '../../../src/adapters/s3/sigv4-presigner';
import { TamsError } from '../../../src/domain/errors';

const MINUTE = 60_000;

/** A provider handing out a new session each call, living `lifetimeMs`; failing while `failing` is set. */
function sessions(lifetimeMs: number) {
  const state = { calls: 0, forced: 0, failing: false };
  const provider = async (options?: { forceRefresh?: boolean }): Promise<ProvidedCredentials> => {
    state.calls += 1;
    if (options?.forceRefresh === true) state.forced += 1;
    if (state.failing) throw new Error('sts unreachable');
    return { accessKeyId: `ASIA${state.calls}`, secretAccessKey: `secret${state.calls}`, sessionToken: `token${state.calls}`, expiration: new Date(Date.now() + lifetimeMs) };
  };
  return { provider, state };
}

beforeEach(() => {
  jest.useFakeTimers({ now: new Date('2026-12-06T12:00:00Z') });
});

afterEach(() => {
  jest.useRealTimers();
});

describe('S3CredentialsKeeper', () => {
  it('hands static credentials over at once and never schedules anything', async () => {
    const changes: S3Credentials[] = [];
    const keeper = new S3CredentialsKeeper({ label: 'b', source: { accessKeyId: 'AKID', secretAccessKey: 's' }, onChange: (c) => changes.push(c), now: Date.now });
    expect(keeper.current()).toEqual({ accessKeyId: 'AKID', secretAccessKey: 's' });
    await keeper.start();
    expect(changes).toHaveLength(1);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('refuses incomplete static credentials', () => {
    expect(() => new S3CredentialsKeeper({ label: 'b', source: { accessKeyId: '', secretAccessKey: 's' }, onChange: () => undefined, now: Date.now })).toThrow(/access key id/);
  });

  it('resolves temporary credentials at start, then refreshes them halfway to expiry in the background', async () => {
    const { provider, state } = sessions(60 * MINUTE);
    const changes: string[] = [];
    const keeper = new S3CredentialsKeeper({ label: 'b', source: provider, onChange: (c) => changes.push(c.sessionToken ?? ''), now: Date.now });
    expect(() => keeper.current()).toThrow(/not resolved yet/);
    await keeper.start();
    await keeper.start();
    expect(state.calls).toBe(1);
    expect(keeper.current().sessionToken).toBe('token1');

    await jest.advanceTimersByTimeAsync(30 * MINUTE - 1);
    expect(keeper.current().sessionToken).toBe('token1');
    await jest.advanceTimersByTimeAsync(1);
    expect(keeper.current().sessionToken).toBe('token2');
    expect(state.forced).toBe(1);
    await jest.advanceTimersByTimeAsync(30 * MINUTE);
    expect(keeper.current().sessionToken).toBe('token3');
    expect(changes).toEqual(['token1', 'token2', 'token3']);
    keeper.stop();
    expect(jest.getTimerCount()).toBe(0);
  });

  it('keeps the old credentials when a refresh fails, reports it, and retries until it succeeds', async () => {
    const { provider, state } = sessions(10 * MINUTE);
    const errors: unknown[] = [];
    const keeper = new S3CredentialsKeeper({ label: 'b', source: provider, onChange: () => undefined, onRefreshError: (e) => errors.push(e), now: Date.now });
    await keeper.start();
    state.failing = true;
    await jest.advanceTimersByTimeAsync(5 * MINUTE);
    expect(errors).toHaveLength(1);
    expect(keeper.current().sessionToken).toBe('token1');
    // The retry comes halfway to the (unchanged) expiry: 2.5 minutes on.
    await jest.advanceTimersByTimeAsync(2.5 * MINUTE);
    expect(errors).toHaveLength(2);
    state.failing = false;
    await jest.advanceTimersByTimeAsync(1.25 * MINUTE);
    expect(keeper.current().sessionToken).toBe('token4');
    keeper.stop();
  });

  it('refuses to sign with expired credentials (unavailable), and the SDK path waits for a refresh', async () => {
    const { provider, state } = sessions(10 * MINUTE);
    const keeper = new S3CredentialsKeeper({ label: 'media-b', source: provider, onChange: () => undefined, onRefreshError: () => undefined, now: Date.now });
    await keeper.start();
    keeper.stop();
    jest.setSystemTime(Date.now() + 11 * MINUTE);
    let thrown: unknown;
    try {
      keeper.current();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TamsError);
    expect(thrown).toMatchObject({ code: 'unavailable', message: expect.stringContaining("'media-b'") });
    // Stopped: nothing refreshes any more.
    expect(state.calls).toBe(1);

    const live = new S3CredentialsKeeper({ label: 'b', source: sessions(10 * MINUTE).provider, onChange: () => undefined, now: Date.now });
    await live.start();
    jest.setSystemTime(Date.now() + 11 * MINUTE);
    expect((await live.identity()).sessionToken).toBe('token2');
    expect(live.current().sessionToken).toBe('token2');
    live.stop();
  });

  it('never refreshes sooner than a second apart, whatever the provider hands out', async () => {
    const { provider, state } = sessions(100);
    const keeper = new S3CredentialsKeeper({ label: 'b', source: provider, onChange: () => undefined, now: Date.now });
    await keeper.start();
    await jest.advanceTimersByTimeAsync(999);
    expect(state.calls).toBe(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(state.calls).toBe(2);
    keeper.stop();
  });

  it('fails to start naming the backend when the provider has nothing, and can start later', async () => {
    const { provider, state } = sessions(10 * MINUTE);
    state.failing = true;
    const keeper = new S3CredentialsKeeper({ label: 'media-b', source: provider, onChange: () => undefined, now: Date.now });
    await expect(keeper.start()).rejects.toThrow("S3 storage backend 'media-b': no credentials (sts unreachable)");
    state.failing = false;
    await keeper.start();
    expect(keeper.current().accessKeyId).toBe('ASIA2');
    keeper.stop();
  });
});
