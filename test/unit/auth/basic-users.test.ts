import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BasicUsers, addUser, hashPassword, listUsers, readUsersFile, removeUser, verifyPassword } from '../../../src/auth/basic-users';

describe('Basic users file', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-users-'));
    file = path.join(dir, 'users.json');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('hashes with scrypt and a fresh salt each time, and checks in constant time', async () => {
    const a = await hashPassword('correct horse');
    const b = await hashPassword('correct horse');
    expect(a).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('correct horse', a)).toBe(true);
    expect(await verifyPassword('correct horse', b)).toBe(true);
    expect(await verifyPassword('correct horsE', a)).toBe(false);
    expect(await verifyPassword('', a)).toBe(false);
    expect(await verifyPassword('correct horse', 'plain-text')).toBe(false);
    expect(await verifyPassword('correct horse', a.replace('ln=15', 'ln=40'))).toBe(false);
  });

  it('adds, lists and removes users in a file only its owner can read, never storing the password', async () => {
    await addUser(file, { name: 'alice', scopes: ['write', 'read'], authClasses: ['news'] }, 'alice-password');
    await addUser(file, { name: 'bob', scopes: [], authClasses: [] }, 'bob-password');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(file, 'utf8')).not.toContain('alice-password');
    expect(listUsers(file)).toEqual([
      { name: 'alice', scopes: ['read', 'write'], authClasses: ['news'] },
      { name: 'bob', scopes: [], authClasses: [] },
    ]);
    expect(removeUser(file, 'bob')).toBe(true);
    expect(removeUser(file, 'bob')).toBe(false);
    expect(Object.keys(readUsersFile(file).users)).toEqual(['alice']);
    expect(fs.readdirSync(dir)).toEqual(['users.json']);
  });

  it('refuses names a Basic header cannot carry and short passwords', async () => {
    await expect(addUser(file, { name: 'a:b', scopes: [], authClasses: [] }, 'long-enough')).rejects.toThrow('user names');
    await expect(addUser(file, { name: 'carol', scopes: [], authClasses: [] }, 'short')).rejects.toThrow('at least 8');
  });

  it('verifies users, tells wrong password from unknown user in its reason, and sees file changes', async () => {
    const users = new BasicUsers(file);
    expect(users.hasUsers()).toBe(false);
    expect(await users.verify('alice', 'whatever')).toEqual({ ok: false, reason: 'no Basic users configured' });

    await addUser(file, { name: 'alice', scopes: ['read'], authClasses: [] }, 'alice-password');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(users.hasUsers()).toBe(true);
    expect(users.exists('alice')).toBe(true);
    expect(users.exists('bob')).toBe(false);
    expect(await users.verify('bob', 'whatever')).toEqual({ ok: false, reason: 'unknown user' });
    expect(await users.verify('alice', 'alice-password')).toEqual({ ok: true, user: { name: 'alice', scopes: ['read'], authClasses: [] } });
    expect(await users.verify('alice', 'wrong-password')).toEqual({ ok: false, reason: 'wrong password' });
    // The same refused pair again costs no scrypt for a minute.
    expect(await users.verify('alice', 'wrong-password')).toEqual({ ok: false, reason: 'wrong name or password (refused recently)' });

    // A changed password forgets the remembered success.
    await addUser(file, { name: 'alice', scopes: ['read', 'write'], authClasses: [] }, 'new-password');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await users.verify('alice', 'alice-password')).toEqual({ ok: false, reason: 'wrong password' });
    expect(await users.verify('alice', 'new-password')).toMatchObject({ ok: true, user: { scopes: ['read', 'write'] } });
  });

  it('costs no scrypt without users, and runs at most two checks at once, 32 waiting, refusing more as busy', async () => {
    const users = new BasicUsers(file);
    const none = await Promise.all(Array.from({ length: 100 }, (_, i) => users.verify(`u${i}`, 'x')));
    expect(none.every((c) => !c.ok && c.reason === 'no Basic users configured')).toBe(true);
    await addUser(file, { name: 'alice', scopes: ['read'], authClasses: [] }, 'alice-password');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const checks = await Promise.all(Array.from({ length: 40 }, (_, i) => users.verify('alice', `guess-${i}`)));
    const busy = checks.filter((c) => !c.ok && c.busy === true);
    expect(busy).toHaveLength(40 - 2 - 32);
    expect(checks.filter((c) => !c.ok && c.reason === 'wrong password')).toHaveLength(34);
    // A slot is free again once they are done.
    expect(await users.verify('alice', 'alice-password')).toMatchObject({ ok: true });
  });

  it('fails closed on a broken file', async () => {
    fs.writeFileSync(file, '{"users": {"alice": {"password": 1}}}');
    const users = new BasicUsers(file);
    expect(users.hasUsers()).toBe(false);
    const check = await users.verify('alice', 'anything');
    expect(check.ok).toBe(false);
    expect(!check.ok && check.reason).toContain('users file unusable');
  });
});
