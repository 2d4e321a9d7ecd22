import { ORACLE_BACKFILL_TABLES } from './backfill/progress-sql';
import { ORACLE_CHECKPOINT_TABLE } from './checkpoint';
import type { OracleConnectionLike } from './connection';

/** What decides whether an Oracle user can be a pipeline's target. */
export interface OracleTargetState {
  /** PRODUCT_COMPONENT_VERSION.VERSION of the database (e.g. `23.0.0.0.0`). */
  version: string;
  user: string;
  /** SESSION_PRIVS: system privileges in effect, directly or through roles. */
  privileges: string[];
  defaultTablespace: string;
  /** USER_TS_QUOTAS of the default tablespace: max bytes, -1 for unlimited; undefined: no quota row. */
  quotaMaxBytes: number | undefined;
  quotaUsedBytes: number;
  /** Otterflow's own tables (checkpoint, backfill progress) not created yet: they need CREATE TABLE. */
  missingSystemTables: string[];
}

/** One check, as for MySQL sources: a failed one says exactly what to change. */
export interface OraclePrerequisiteCheck {
  name: string;
  ok: boolean;
  actual: string;
  fix?: string;
}

/** Otterflow's tables in the user's schema. */
const SYSTEM_TABLES = [ORACLE_CHECKPOINT_TABLE, ...Object.values(ORACLE_BACKFILL_TABLES)];

/** Quota below this (bytes free in the default tablespace) is reported: the checkpoint table needs an extent. */
const MIN_FREE_QUOTA = 1024 * 1024;

/** Pure evaluation: each failed check carries the statement a DBA runs to fix it. */
export function checkOracleTargetPrerequisites(s: OracleTargetState): OraclePrerequisiteCheck[] {
  const privs = new Set(s.privileges.map((p) => p.toUpperCase()));
  const user = `"${s.user}"`;
  const unlimited = privs.has('UNLIMITED TABLESPACE') || s.quotaMaxBytes === -1;
  const free = s.quotaMaxBytes === undefined ? 0 : s.quotaMaxBytes - s.quotaUsedBytes;
  const checks: OraclePrerequisiteCheck[] = [
    {
      name: 'privilege CREATE SESSION',
      ok: privs.has('CREATE SESSION'),
      actual: [...privs].join(', ') || '(none)',
      fix: `GRANT CREATE SESSION TO ${user}`,
    },
    {
      name: 'privilege CREATE TABLE',
      ok: s.missingSystemTables.length === 0 || privs.has('CREATE TABLE'),
      actual:
        s.missingSystemTables.length === 0
          ? `${SYSTEM_TABLES.join(', ')} exist`
          : `missing, and ${s.missingSystemTables.join(', ')} not created yet`,
      fix: `GRANT CREATE TABLE TO ${user} (the checkpoint table ${ORACLE_CHECKPOINT_TABLE} is created on the first run, the backfill's tables on the first backfill)`,
    },
    {
      name: `quota on ${s.defaultTablespace}`,
      ok: unlimited || free >= MIN_FREE_QUOTA,
      actual: unlimited
        ? 'unlimited'
        : s.quotaMaxBytes === undefined
          ? 'none'
          : `${s.quotaUsedBytes} of ${s.quotaMaxBytes} bytes used`,
      fix: `ALTER USER ${user} QUOTA UNLIMITED ON ${s.defaultTablespace} (rows and the checkpoint table are stored there)`,
    },
  ];
  return checks.map((c) => (c.ok ? { name: c.name, ok: true, actual: c.actual } : c));
}

/** PRODUCT_COMPONENT_VERSION.VERSION (readable by every user). */
export async function readOracleVersion(conn: OracleConnectionLike): Promise<string> {
  const r = await conn.execute<unknown[]>(VERSION_SQL, [], { outFormat: 4001 /* OUT_FORMAT_ARRAY */ });
  return String(r.rows?.[0]?.[0] ?? '');
}

const VERSION_SQL = "SELECT version FROM product_component_version WHERE product LIKE 'Oracle%'";

/**
 * Reads the state from views every user can query (PRODUCT_COMPONENT_VERSION, SESSION_PRIVS,
 * USER_USERS, USER_TS_QUOTAS, USER_TABLES). Writes to mapped tables need INSERT/UPDATE/DELETE on them
 * (or ownership): the first batch names a table it cannot write.
 */
export async function readOracleTargetState(conn: OracleConnectionLike): Promise<OracleTargetState> {
  const q = async (sql: string, binds: unknown[] = []) =>
    ((await conn.execute<unknown[]>(sql, binds, { outFormat: 4001 /* OUT_FORMAT_ARRAY */ })).rows ??
      []) as unknown[][];
  const version = await q(VERSION_SQL);
  const privileges = await q('SELECT privilege FROM session_privs');
  const [u] = await q('SELECT username, default_tablespace FROM user_users');
  const tablespace = String(u?.[1] ?? '');
  const [quota] = await q('SELECT max_bytes, bytes FROM user_ts_quotas WHERE tablespace_name = :1', [
    tablespace,
  ]);
  const existing = await q(
    `SELECT table_name FROM user_tables WHERE table_name IN (${SYSTEM_TABLES.map((_, i) => `:${i + 1}`).join(', ')})`,
    SYSTEM_TABLES,
  );
  const found = new Set(existing.map((r) => String(r[0])));
  return {
    version: String(version[0]?.[0] ?? ''),
    user: String(u?.[0] ?? ''),
    privileges: privileges.map((r) => String(r[0])),
    defaultTablespace: tablespace,
    quotaMaxBytes: quota ? Number(quota[0]) : undefined,
    quotaUsedBytes: quota ? Number(quota[1]) : 0,
    missingSystemTables: SYSTEM_TABLES.filter((t) => !found.has(t)),
  };
}
