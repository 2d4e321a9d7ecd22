import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/** admin may change things; readonly may only read. */
export type ApiRole = 'admin' | 'readonly';

const tokenEntrySchema = z
  .object({
    name: z.string().min(1).max(128),
    role: z.enum(['admin', 'readonly']),
    token: z.string().min(16).optional(),
    /** Hex SHA-256 of the token, so the file need not hold the token itself. */
    sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/)
      .optional(),
  })
  .strict()
  .refine((e) => (e.token === undefined) !== (e.sha256 === undefined), {
    message: 'give exactly one of token or sha256',
  });

const tokenFileSchema = z.array(tokenEntrySchema);

/** A configured token as kept in memory: only its hash. */
export interface ApiToken {
  name: string;
  role: ApiRole;
  sha256: Buffer;
}

/** Who made a request. */
export interface ApiPrincipal {
  name: string;
  role: ApiRole;
}

export function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Parses a tokens document (the file's or the variable's text); throws naming the bad entry. */
export function parseApiTokens(text: string, source: string): ApiToken[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error(`${source}: not valid JSON (expected [{ "name", "role", "token" | "sha256" }])`);
  }
  const parsed = tokenFileSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`${source}: ${lines.join('; ')}`);
  }
  return parsed.data.map((e) => ({
    name: e.name,
    role: e.role,
    sha256: e.sha256 ? Buffer.from(e.sha256, 'hex') : sha256(e.token ?? ''),
  }));
}

/** The tokens file `otterflow dev up` creates when nothing else is configured. */
export function devTokensFile(home: string): string {
  return path.join(home, 'api-tokens.json');
}

export interface TokenSource {
  tokens: ApiToken[];
  /** Where they came from, for the start-up log (never the tokens). */
  source: string;
}

/**
 * Reads the API's tokens: OTTERFLOW_API_TOKENS_FILE, else OTTERFLOW_API_TOKENS (the same JSON
 * inline), else the dev tokens file under OTTERFLOW_HOME if it exists. Empty means the API must
 * not start.
 */
export function loadApiTokens(
  home: string,
  env: NodeJS.ProcessEnv = process.env,
  opts: { devFile?: boolean } = {},
): TokenSource {
  const file = env.OTTERFLOW_API_TOKENS_FILE;
  if (file) return { tokens: parseApiTokens(fs.readFileSync(file, 'utf8'), file), source: file };
  const inline = env.OTTERFLOW_API_TOKENS;
  if (inline)
    return { tokens: parseApiTokens(inline, 'OTTERFLOW_API_TOKENS'), source: 'OTTERFLOW_API_TOKENS' };
  const dev = devTokensFile(home);
  if (opts.devFile !== false && fs.existsSync(dev))
    return { tokens: parseApiTokens(fs.readFileSync(dev, 'utf8'), dev), source: dev };
  return { tokens: [], source: 'none' };
}

/**
 * Finds the principal for a presented token. Every configured token is compared, in constant
 * time over equal-length hashes, so the time taken says nothing about which (or how much) matched.
 */
export function authenticateToken(tokens: ApiToken[], presented: string): ApiPrincipal | undefined {
  const h = sha256(presented);
  let found: ApiToken | undefined;
  for (const t of tokens) {
    if (timingSafeEqual(h, t.sha256) && found === undefined) found = t;
  }
  return found ? { name: found.name, role: found.role } : undefined;
}

export interface DevTokens {
  file: string;
  created: boolean;
}

/**
 * For `otterflow dev up`: when no tokens are configured, writes a tokens file (0600) with a random
 * admin and a random readonly token under OTTERFLOW_HOME, once. Returns where the file is.
 */
export function ensureDevApiTokens(home: string, env: NodeJS.ProcessEnv = process.env): DevTokens {
  if (env.OTTERFLOW_API_TOKENS_FILE) return { file: env.OTTERFLOW_API_TOKENS_FILE, created: false };
  const file = devTokensFile(home);
  if (env.OTTERFLOW_API_TOKENS || fs.existsSync(file)) return { file, created: false };
  fs.mkdirSync(home, { recursive: true });
  const entries = [
    { name: 'dev-admin', role: 'admin', token: `otf_${randomBytes(24).toString('base64url')}` },
    { name: 'dev-readonly', role: 'readonly', token: `otf_${randomBytes(24).toString('base64url')}` },
  ];
  fs.writeFileSync(file, `${JSON.stringify(entries, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  return { file, created: true };
}

/** One line for `dev up` to print. */
export function describeDevTokens(t: DevTokens): string {
  return `  API tokens        ${t.file}${t.created ? ' (created: an admin and a readonly token)' : ''}`;
}

/**
 * For the CLI: a token from OTTERFLOW_TOKEN, else the first admin token (then readonly) in the dev
 * tokens file, when that file holds plain tokens.
 */
export function cliToken(home: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.OTTERFLOW_TOKEN) return env.OTTERFLOW_TOKEN;
  const file = env.OTTERFLOW_API_TOKENS_FILE ?? devTokensFile(home);
  if (!fs.existsSync(file)) return undefined;
  try {
    const entries = tokenFileSchema.parse(JSON.parse(fs.readFileSync(file, 'utf8')));
    const pick = (role: ApiRole) => entries.find((e) => e.role === role && e.token)?.token;
    return pick('admin') ?? pick('readonly');
  } catch {
    return undefined;
  }
}
