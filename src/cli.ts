/**
 * Operator commands, run on the built JS by `npm run <command> -- <args>` with the same
 * environment (TAMS_DATA_DIR, AUTH_*) as the gateway:
 *
 *   token --scopes read,write,delete,admin [--ttl 1h] [--sub NAME] [--auth-classes a,b]
 *       prints one bearer token, alone on stdout (`TOKEN=$(npm run -s token -- --scopes read)`)
 *   user add NAME --scopes read,write [--auth-classes a,b] [--password-stdin]
 *       adds or replaces an HTTP Basic user; without --password-stdin a random password is
 *       generated and printed, alone on stdout
 *   user remove NAME
 *   user list
 *   migrate [--copy-from FILE]
 *       applies the metadata store's migrations (TAMS_STORE: PostgreSQL at DATABASE_URL, or the
 *       SQLite file in TAMS_DATA_DIR) and exits; with --copy-from, then copies that SQLite file
 *       (an embedded store's tams.db) into the PostgreSQL store, which must be empty, and checks
 *       the copy (exit 1 on any difference)
 *
 * Messages go to stderr, so stdout stays usable in scripts.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config';
import { SCOPES, type Scope } from './domain/principal';
import { addUser, listUsers, removeUser } from './auth/basic-users';
import { issueToken, tokenSigner } from './auth/token-issuer';
import { migrate } from './migrate-command';

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  readStdin(): Promise<string>;
  env: Record<string, string | undefined>;
}

class UsageError extends Error {}

const USAGE = `usage:
  token --scopes read,write,delete,admin [--ttl 1h] [--sub NAME] [--auth-classes a,b]
  user add NAME --scopes read,write [--auth-classes a,b] [--password-stdin]
  user remove NAME
  user list
  migrate [--copy-from FILE]`;

const MAX_TTL_SEC = 366 * 24 * 3600;
const TTL_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `90`, `90s`, `15m`, `1h`, `7d` -> seconds. */
export function parseTtl(text: string): number {
  const m = /^(\d{1,8})([smhd]?)$/.exec(text);
  const seconds = m ? Number(m[1]) * (TTL_UNITS[m[2] || 's'] as number) : NaN;
  if (!(seconds >= 1 && seconds <= MAX_TTL_SEC)) throw new UsageError(`--ttl must be like 90s, 15m, 1h or 7d (at most 366d), got ${JSON.stringify(text)}`);
  return seconds;
}

function parseScopes(text: string | undefined): Scope[] {
  if (text === undefined) throw new UsageError(`--scopes is required (some of ${SCOPES.join(',')})`);
  const names = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const unknown = names.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length > 0) throw new UsageError(`unknown scope ${unknown.join(', ')} (scopes: ${SCOPES.join(', ')})`);
  return SCOPES.filter((s) => names.includes(s));
}

function parseList(text: string | undefined): string[] {
  return text === undefined ? [] : [...new Set(text.split(',').map((s) => s.trim()).filter((s) => s !== ''))];
}

function parse(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      scopes: { type: 'string' },
      ttl: { type: 'string' },
      sub: { type: 'string' },
      'auth-classes': { type: 'string' },
      'password-stdin': { type: 'boolean' },
    },
  });
}

async function token(args: string[], io: CliIo): Promise<void> {
  const { values, positionals } = parse(args);
  if (positionals.length > 0) throw new UsageError(`unexpected ${positionals.join(' ')}`);
  const config = loadConfig(io.env);
  if (config.auth === 'off') io.stderr('note: TAMS_AUTH=off, the gateway ignores tokens until it is on\n');
  const signed = await issueToken(
    tokenSigner(config),
    {
      subject: values.sub ?? 'operator',
      scopes: parseScopes(values.scopes),
      authClasses: parseList(values['auth-classes']),
      ttlSec: parseTtl(values.ttl ?? '1h'),
    },
    config,
  );
  io.stdout(`${signed}\n`);
}

async function user(args: string[], io: CliIo): Promise<void> {
  const { values, positionals } = parse(args);
  const [action, name, ...rest] = positionals;
  if (rest.length > 0) throw new UsageError(`unexpected ${rest.join(' ')}`);
  const file = loadConfig(io.env).authentication.usersFile;
  switch (action) {
    case 'add': {
      if (name === undefined) throw new UsageError('user add needs a NAME');
      const scopes = parseScopes(values.scopes);
      const generated = values['password-stdin'] !== true;
      const password = generated ? randomBytes(18).toString('base64url') : (await io.readStdin()).replace(/\r?\n$/, '');
      await addUser(file, { name, scopes, authClasses: parseList(values['auth-classes']) }, password);
      io.stderr(`user ${name} saved in ${file} with scopes ${scopes.join(',') || '(none)'}${generated ? '; its generated password follows' : ''}\n`);
      if (generated) io.stdout(`${password}\n`);
      return;
    }
    case 'remove':
      if (name === undefined) throw new UsageError('user remove needs a NAME');
      if (!removeUser(file, name)) throw new Error(`no user ${name} in ${file}`);
      io.stderr(`user ${name} removed from ${file}\n`);
      return;
    case 'list':
      if (name !== undefined) throw new UsageError(`unexpected ${name}`);
      for (const u of listUsers(file)) {
        io.stdout(`${u.name}\tscopes=${u.scopes.join(',')}\tauth_classes=${u.authClasses.join(',')}\n`);
      }
      return;
    default:
      throw new UsageError(`unknown user action ${JSON.stringify(action ?? '')}`);
  }
}

/** Runs one command; resolves to the process exit code (2: usage or configuration, 1: failure). */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [command, ...args] = argv;
  try {
    if (command === 'token') await token(args, io);
    else if (command === 'user') await user(args, io);
    else if (command === 'migrate') {
      const { values, positionals } = parseArgs({ args, allowPositionals: true, strict: true, options: { 'copy-from': { type: 'string' } } });
      if (positionals.length > 0) throw new UsageError(`unexpected ${positionals.join(' ')}`);
      return await migrate(values['copy-from'], io);
    }
    else throw new UsageError(command === undefined ? 'no command' : `unknown command ${JSON.stringify(command)}`);
    return 0;
  } catch (err) {
    // parseArgs reports unknown or malformed options with ERR_PARSE_ARGS_* codes.
    const usage = err instanceof UsageError || err instanceof ConfigError || String((err as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS');
    io.stderr(`error: ${err instanceof Error ? err.message : String(err)}\n${usage && !(err instanceof ConfigError) ? `${USAGE}\n` : ''}`);
    return usage ? 2 : 1;
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

if (require.main === module) {
  void runCli(process.argv.slice(2), {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    readStdin,
    env: process.env,
  }).then((code) => {
    process.exitCode = code;
  });
}
