/**
 * HTTP Basic users (the TAMS `basic_auth` scheme, for constrained set-ups): a JSON file of
 * scrypt hashes with a salt each, plus the scopes and auth classes of every user. `npm run
 * user` edits the file; a running gateway notices the change within a second.
 *
 * File shape: `{"users": {"alice": {"password": "$scrypt$ln=15,r=8,p=1$<salt>$<hash>",
 * "scopes": ["read"], "authClasses": []}}}` (base64 without padding).
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes, randomUUID, scrypt, timingSafeEqual } from 'node:crypto';
import { SCOPES, type Scope } from '../domain/principal';
import { VerifiedTokenCache } from './verified-token-cache';

export interface BasicUser {
  name: string;
  scopes: Scope[];
  authClasses: string[];
}

interface StoredUser {
  password: string;
  scopes: string[];
  authClasses?: string[];
}

interface UsersDocument {
  users: Record<string, StoredUser>;
}

/** Names a Basic header can carry unambiguously (no `:`) and a shell can pass unquoted. */
export const USER_NAME_RE = /^[A-Za-z0-9._@+-]{1,128}$/;

// N = 2^15, r = 8: about 32 MiB and tens of milliseconds per check, the cost that makes an
// offline guess of a stolen file expensive.
const LOG2_N = 15;
const BLOCK_SIZE = 8;
const PARALLELISM = 1;
const KEY_LENGTH = 32;
const HASH_RE = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

function derive(password: string, salt: Buffer, log2N: number, r: number, p: number, length: number): Promise<Buffer> {
  const N = 2 ** log2N;
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, length, { N, r, p, maxmem: 256 * N * r * p }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

const b64 = (b: Buffer): string => b.toString('base64').replace(/=+$/, '');

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, LOG2_N, BLOCK_SIZE, PARALLELISM, KEY_LENGTH);
  return `$scrypt$ln=${LOG2_N},r=${BLOCK_SIZE},p=${PARALLELISM}$${b64(salt)}$${b64(key)}`;
}

/** Constant-time comparison of the derived key; a malformed hash never matches. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const m = HASH_RE.exec(encoded);
  if (!m) return false;
  const [log2N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (log2N < 10 || log2N > 20 || r < 1 || p < 1) return false;
  const expected = Buffer.from(m[5] as string, 'base64');
  if (expected.length < 16) return false;
  const actual = await derive(password, Buffer.from(m[4] as string, 'base64'), log2N, r, p, expected.length);
  return timingSafeEqual(actual, expected);
}

function isStoredUser(value: unknown): value is StoredUser {
  const u = value as Partial<StoredUser> | null;
  return (
    typeof u === 'object' && u !== null && typeof u.password === 'string' && Array.isArray(u.scopes) &&
    (u.authClasses === undefined || Array.isArray(u.authClasses))
  );
}

/** The file's users; a missing file is no users. Throws on a file that is not a users file. */
export function readUsersFile(file: string): UsersDocument {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { users: {} };
    throw err;
  }
  const doc = JSON.parse(text) as Partial<UsersDocument> | null;
  const users = doc?.users;
  if (typeof users !== 'object' || users === null || Array.isArray(users) || !Object.values(users).every(isStoredUser)) {
    throw new Error(`${file} is not a users file ({"users": {name: {password, scopes, authClasses}}})`);
  }
  return { users };
}

/** Replaces the file in one rename, readable by its owner only. */
function writeUsersFile(file: string, doc: UsersDocument): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.${randomUUID()}.tmp`;
  fs.writeFileSync(temp, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(temp, file);
}

function toBasicUser(name: string, stored: StoredUser): BasicUser {
  return {
    name,
    scopes: SCOPES.filter((s) => stored.scopes.includes(s)),
    authClasses: (stored.authClasses ?? []).filter((c): c is string => typeof c === 'string'),
  };
}

/** Adds or replaces a user (`npm run user -- add`). */
export async function addUser(file: string, user: BasicUser, password: string): Promise<void> {
  if (!USER_NAME_RE.test(user.name)) throw new Error(`user names are 1-128 of A-Z a-z 0-9 . _ @ + -, got ${JSON.stringify(user.name)}`);
  if (password.length < 8) throw new Error('passwords must be at least 8 characters');
  const stored: StoredUser = { password: await hashPassword(password), scopes: [...user.scopes], authClasses: [...user.authClasses] };
  const doc = readUsersFile(file);
  doc.users[user.name] = stored;
  writeUsersFile(file, doc);
}

/** Removes a user; false when there was none of that name. */
export function removeUser(file: string, name: string): boolean {
  const doc = readUsersFile(file);
  if (!Object.hasOwn(doc.users, name)) return false;
  delete doc.users[name];
  writeUsersFile(file, doc);
  return true;
}

export function listUsers(file: string): BasicUser[] {
  return Object.entries(readUsersFile(file).users).map(([name, stored]) => toBasicUser(name, stored));
}

/** `busy`: too many checks under way to start another (a 503 for the caller, not a wrong password). */
export type BasicCheck = { ok: true; user: BasicUser } | { ok: false; reason: string; busy?: boolean };

const RELOAD_CHECK_MS = 1000;
const VERIFIED_TTL_MS = 5 * 60_000;
/** A refused name and password are refused again without scrypt for this long. */
const FAILED_TTL_MS = 60_000;
/**
 * scrypt runs in libuv's thread pool (4 threads by default), which file reads and DNS share:
 * at most this many run at once, so Basic guesses cannot starve the rest of the gateway...
 */
const MAX_CONCURRENT_CHECKS = 2;
/** ...and at most this many wait for a turn; more are refused at once as busy. */
const MAX_WAITING_CHECKS = 32;

/**
 * The users file as the gateway sees it: re-read when it changes (checked at most once a
 * second). A successful check is remembered for a few minutes, keyed by a hash of the
 * credentials, because scrypt per request would make Basic callers cost tens of
 * milliseconds of CPU each; a change to the file forgets them all.
 */
export class BasicUsers {
  private users = new Map<string, StoredUser>();
  private fileVersion = '';
  private checkedAtMs = -Infinity;
  private loadError: string | undefined;
  private verified = new VerifiedTokenCache<BasicUser>(1000);
  private failed = new VerifiedTokenCache<true>(10_000);
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  // A hash to check unknown names against, so a miss costs what a wrong password costs.
  private decoy: Promise<string> | undefined;

  constructor(readonly file: string) {}

  private refresh(): void {
    const now = Date.now();
    if (now - this.checkedAtMs < RELOAD_CHECK_MS) return;
    this.checkedAtMs = now;
    let version: string;
    try {
      const stat = fs.statSync(this.file);
      version = `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
    } catch {
      version = 'missing';
    }
    if (version === this.fileVersion) return;
    this.fileVersion = version;
    this.verified = new VerifiedTokenCache<BasicUser>(1000);
    this.failed = new VerifiedTokenCache<true>(10_000);
    try {
      this.users = new Map(Object.entries(readUsersFile(this.file).users));
      this.loadError = undefined;
    } catch (err) {
      // Fail closed: a broken file lets nobody in until it is fixed.
      this.users = new Map();
      this.loadError = err instanceof Error ? err.message : String(err);
    }
  }

  /** Whether Basic is worth offering in a 401 challenge. */
  hasUsers(): boolean {
    this.refresh();
    return this.users.size > 0;
  }

  /** Whether `name` is (still) a user of the file. */
  exists(name: string): boolean {
    this.refresh();
    return this.users.has(name);
  }

  /**
   * Checks a name and password. Costs no scrypt when there are no users at all, for a pair
   * refused in the last minute, or for a pair accepted in the last minutes; otherwise one
   * scrypt (against a decoy hash for an unknown name, so a miss costs what a wrong password
   * costs), at most MAX_CONCURRENT_CHECKS at once.
   */
  async verify(name: string, password: string): Promise<BasicCheck> {
    this.refresh();
    if (this.users.size === 0) return { ok: false, reason: this.loadError === undefined ? 'no Basic users configured' : `users file unusable: ${this.loadError}` };
    const key = createHash('sha256').update(name).update('\0').update(password).digest('base64');
    // Held across the awaits: if the file changes meanwhile, this result goes into the
    // discarded caches, never the new ones.
    const { verified, failed } = this;
    const remembered = verified.get(key);
    if (remembered !== undefined) return { ok: true, user: remembered };
    if (failed.get(key) !== undefined) return { ok: false, reason: 'wrong name or password (refused recently)' };
    if (!(await this.turn())) return { ok: false, reason: 'too many Basic checks under way', busy: true };
    let check: BasicCheck;
    try {
      check = await this.check(name, password);
    } finally {
      this.release();
    }
    if (check.ok) verified.set(key, check.user, Date.now() + VERIFIED_TTL_MS);
    else failed.set(key, true, Date.now() + FAILED_TTL_MS);
    return check;
  }

  private async check(name: string, password: string): Promise<BasicCheck> {
    const stored = this.users.get(name);
    if (stored === undefined) {
      this.decoy ??= hashPassword(randomBytes(16).toString('hex'));
      await verifyPassword(password, await this.decoy);
      return { ok: false, reason: 'unknown user' };
    }
    if (!(await verifyPassword(password, stored.password))) return { ok: false, reason: 'wrong password' };
    return { ok: true, user: toBasicUser(name, stored) };
  }

  /** Waits for a free check slot; false when too many are waiting already. */
  private async turn(): Promise<boolean> {
    if (this.running < MAX_CONCURRENT_CHECKS) {
      this.running++;
      return true;
    }
    if (this.waiting.length >= MAX_WAITING_CHECKS) return false;
    // release() hands its slot straight to the first waiter (running stays the same).
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    return true;
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next !== undefined) next();
    else this.running--;
  }
}
