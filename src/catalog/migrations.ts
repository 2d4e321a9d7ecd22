import type mysql from 'mysql2/promise';

/**
 * The catalog's schema, as ordered migrations. A migration is never edited once released: a change
 * is a new entry with the next version. Each statement is written so that re-running it after a
 * crash between the statement and its version row does no harm (MySQL commits DDL implicitly, so a
 * migration cannot be one transaction).
 */
export interface Migration {
  version: number;
  description: string;
  statements: string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'datasources, pipelines, api_tokens',
    statements: [
      `CREATE TABLE IF NOT EXISTS datasources (
        name VARCHAR(64) NOT NULL PRIMARY KEY,
        definition LONGTEXT NOT NULL,
        version INT UNSIGNED NOT NULL,
        created_at DATETIME(3) NOT NULL,
        updated_at DATETIME(3) NOT NULL
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      // source and target reference datasources: a datasource in use cannot be deleted, and a
      // pipeline cannot name one that another process just deleted.
      `CREATE TABLE IF NOT EXISTS pipelines (
        name VARCHAR(64) NOT NULL PRIMARY KEY,
        source VARCHAR(64) NOT NULL,
        target VARCHAR(64) NOT NULL,
        config LONGTEXT NOT NULL,
        version INT UNSIGNED NOT NULL,
        created_at DATETIME(3) NOT NULL,
        updated_at DATETIME(3) NOT NULL,
        CONSTRAINT pipelines_source FOREIGN KEY (source) REFERENCES datasources (name),
        CONSTRAINT pipelines_target FOREIGN KEY (target) REFERENCES datasources (name)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      `CREATE TABLE IF NOT EXISTS api_tokens (
        name VARCHAR(128) NOT NULL PRIMARY KEY,
        role VARCHAR(16) NOT NULL,
        sha256 BINARY(32) NOT NULL,
        UNIQUE KEY api_tokens_sha256 (sha256)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    ],
  },
];

const LOCK = 'otterflow_catalog_migrate';

/**
 * Brings the schema to the newest version. Processes starting together (two APIs, workers) take
 * a named lock, so each migration runs once; a catalog newer than this code is refused rather than
 * used with a schema the code does not know.
 */
export async function migrate(conn: mysql.Connection, migrations = MIGRATIONS): Promise<number[]> {
  const [lock] = await conn.query<mysql.RowDataPacket[]>('SELECT GET_LOCK(?, 60) AS got', [LOCK]);
  if (Number(lock[0]?.got) !== 1) throw new Error('catalog: timed out waiting for the migration lock');
  try {
    await conn.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
        version INT UNSIGNED NOT NULL PRIMARY KEY,
        description VARCHAR(255) NOT NULL,
        applied_at DATETIME(3) NOT NULL
      ) ENGINE=InnoDB`,
    );
    const [rows] = await conn.query<mysql.RowDataPacket[]>(
      'SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations',
    );
    const current = Number(rows[0]?.v ?? 0);
    const newest = migrations.at(-1)?.version ?? 0;
    if (current > newest)
      throw new Error(
        `catalog: the schema is at version ${current}, newer than this Otterflow knows (${newest}); upgrade Otterflow`,
      );
    const applied: number[] = [];
    for (const m of migrations) {
      if (m.version <= current) continue;
      for (const statement of m.statements) await conn.query(statement);
      await conn.query('INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)', [
        m.version,
        m.description,
        new Date(),
      ]);
      applied.push(m.version);
    }
    return applied;
  } finally {
    await conn.query('SELECT RELEASE_LOCK(?)', [LOCK]);
  }
}
