import { VerifiedTokenCache } from '../../../src/auth/verified-token-cache';

describe('VerifiedTokenCache', () => {
  it('keeps an entry until its expiry, then forgets it', () => {
    let now = 1000;
    const cache = new VerifiedTokenCache<string>(10, () => now);
    cache.set('a', 'A', 2000);
    expect(cache.get('a')).toBe('A');
    now = 1999;
    expect(cache.get('a')).toBe('A');
    now = 2000;
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('never stores an already expired entry, nor anything with size 0', () => {
    const cache = new VerifiedTokenCache<string>(10, () => 5000);
    cache.set('old', 'x', 4000);
    expect(cache.get('old')).toBeUndefined();
    const off = new VerifiedTokenCache<string>(0, () => 0);
    off.set('a', 'A', 10);
    expect(off.get('a')).toBeUndefined();
  });

  it('is bounded: the oldest entry makes room', () => {
    const cache = new VerifiedTokenCache<number>(3, () => 0);
    for (let i = 0; i < 5; i++) cache.set(`t${i}`, i, 100);
    expect(cache.size).toBe(3);
    expect(cache.get('t0')).toBeUndefined();
    expect(cache.get('t1')).toBeUndefined();
    expect(cache.get('t4')).toBe(4);
  });
});
