import type mysql from 'mysql2/promise';

/** Server settings that decide whether a MySQL/MariaDB server can be a CDC source. */
export interface SourceSettings {
  version: string;
  flavor: 'mariadb' | 'mysql';
  serverId: number;
  logBin: boolean;
  binlogFormat: string;
  binlogRowImage: string;
  /** MINIMAL/FULL on MySQL ≥ 8.0.1 and MariaDB ≥ 10.5; null where the server has no such setting. */
  binlogRowMetadata: string | null;
  gtidMode: string | null;
  /** Privileges the connected user holds, as SHOW GRANTS prints them. */
  grants: string[];
}

export interface PrerequisiteCheck {
  name: string;
  ok: boolean;
  /** For a failed check: the exact setting or GRANT to change. */
  fix?: string;
  actual: string;
}

export async function readSourceSettings(conn: mysql.Connection): Promise<SourceSettings> {
  const [vars] = await conn.query<mysql.RowDataPacket[]>(
    "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('version','server_id','log_bin','binlog_format'," +
      "'binlog_row_image','binlog_row_metadata','gtid_mode')",
  );
  const v = new Map(vars.map((r) => [String(r.Variable_name), String(r.Value)]));
  const [grantRows] = await conn.query<mysql.RowDataPacket[]>('SHOW GRANTS');
  const version = v.get('version') ?? '';
  return {
    version,
    flavor: /mariadb/i.test(version) ? 'mariadb' : 'mysql',
    serverId: Number(v.get('server_id') ?? 0),
    logBin: (v.get('log_bin') ?? 'OFF').toUpperCase() === 'ON',
    binlogFormat: (v.get('binlog_format') ?? '').toUpperCase(),
    binlogRowImage: (v.get('binlog_row_image') ?? '').toUpperCase(),
    binlogRowMetadata: v.has('binlog_row_metadata')
      ? (v.get('binlog_row_metadata') ?? '').toUpperCase()
      : null,
    gtidMode: v.get('gtid_mode') ?? null,
    grants: grantRows.map((r) => String(Object.values(r)[0])),
  };
}

/** Pure evaluation of the settings: each failed check says exactly what to change. */
export function checkSourcePrerequisites(s: SourceSettings): PrerequisiteCheck[] {
  const grants = s.grants.join('\n').toUpperCase();
  const hasAll = grants.includes('ALL PRIVILEGES ON *.*');
  const has = (priv: string) =>
    hasAll || new RegExp(`GRANT [^\\n]*\\b${priv}\\b[^\\n]* ON \\*\\.\\*`).test(grants);
  const replicationPriv = 'REPLICATION SLAVE';
  // MySQL keeps a setting across restarts with SET PERSIST; MariaDB needs it in the option file too.
  const setting = (name: string, value: string) =>
    s.flavor === 'mysql'
      ? `SET PERSIST ${name} = '${value}'`
      : `SET GLOBAL ${name} = '${value}' and ${name}=${value} in [mysqld]`;
  const clientPriv = s.flavor === 'mariadb' ? 'BINLOG MONITOR' : 'REPLICATION CLIENT';
  const checks: PrerequisiteCheck[] = [
    {
      name: 'log_bin',
      ok: s.logBin,
      actual: s.logBin ? 'ON' : 'OFF',
      fix:
        s.flavor === 'mysql'
          ? 'binary logging is on by default since MySQL 8.0: remove skip-log-bin / disable-log-bin from the server options and restart it'
          : 'start the server with log_bin enabled (e.g. --log-bin=mysql-bin in [mysqld]) and restart it',
    },
    {
      name: 'binlog_format',
      ok: s.binlogFormat === 'ROW',
      actual: s.binlogFormat || '(unset)',
      fix: `${setting('binlog_format', 'ROW')} (sessions already open keep the old format)`,
    },
    {
      name: 'binlog_row_image',
      ok: s.binlogRowImage === 'FULL',
      actual: s.binlogRowImage || '(unset)',
      fix: setting('binlog_row_image', 'FULL'),
    },
    {
      name: 'binlog_row_metadata',
      ok: s.binlogRowMetadata === null || s.binlogRowMetadata === 'FULL',
      actual: s.binlogRowMetadata ?? '(not supported by this server)',
      fix: `${setting('binlog_row_metadata', 'FULL')} (column names and types travel with every table map)`,
    },
    {
      name: 'server_id',
      ok: s.serverId > 0,
      actual: String(s.serverId),
      fix:
        s.flavor === 'mysql'
          ? 'SET PERSIST server_id = <a number unique among the source and its replicas>'
          : 'set a non-zero, unique server_id in [mysqld]',
    },
    {
      name: `privilege ${replicationPriv}`,
      ok: has(replicationPriv) || has('REPLICATION REPLICA'),
      actual: s.grants.join('; '),
      fix: `GRANT ${replicationPriv} ON *.* TO <user>`,
    },
    {
      name: `privilege ${clientPriv}`,
      ok: has(clientPriv) || has('REPLICATION CLIENT') || has('SUPER'),
      actual: s.grants.join('; '),
      fix: `GRANT ${clientPriv} ON *.* TO <user>`,
    },
  ];
  return checks.map((c) => (c.ok ? { name: c.name, ok: true, actual: c.actual } : c));
}
