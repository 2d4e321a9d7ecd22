import mysql from 'mysql2/promise';
import { type Datasource, datasourceSchema } from '../config/datasources';
import { type PipelineConfig, pipelineConfigSchema } from '../pipeline/config';
import type { ApiRole, ApiToken } from '../service/api-tokens';
import type { PipelineDefinition } from '../service/pipeline-store';
import { migrate } from './migrations';
import {
  AlreadyExistsError,
  type Catalog,
  type DatasourceRepository,
  InUseError,
  MissingError,
  type PipelineRepository,
  StaleVersionError,
  type StoredDatasource,
  type TokenRepository,
} from './types';
import { connectionOptions, parseCatalogUrl, redactCatalogUrl } from './url';

const ER_DUP_ENTRY = 1062;
const ER_ROW_IS_REFERENCED = 1451;
const ER_NO_REFERENCED_ROW = 1452;
const ER_ROW_IS_REFERENCED_2 = 1217;

type Row = mysql.RowDataPacket;

function errno(err: unknown): number | undefined {
  return (err as { errno?: number }).errno;
}

/** Runs `fn` in a transaction on a connection of the pool. */
async function inTransaction<T>(pool: mysql.Pool, fn: (c: mysql.PoolConnection) => Promise<T>): Promise<T> {
  const c = await pool.getConnection();
  try {
    await c.beginTransaction();
    const result = await fn(c);
    await c.commit();
    return result;
  } catch (err) {
    await c.rollback().catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

/** Locks a row and checks the expected version; returns the current version (undefined: no row). */
async function lockVersion(
  c: mysql.PoolConnection,
  table: 'datasources' | 'pipelines',
  name: string,
  expected: number | undefined,
): Promise<number | undefined> {
  const [rows] = await c.query<Row[]>(`SELECT version FROM ${table} WHERE name = ? FOR UPDATE`, [name]);
  const current = rows[0] ? Number(rows[0].version) : undefined;
  if (current !== undefined && expected !== undefined && current !== expected)
    throw new StaleVersionError(table === 'datasources' ? 'datasource' : 'pipeline', name, expected, current);
  return current;
}

class MysqlDatasources implements DatasourceRepository {
  constructor(private readonly pool: mysql.Pool) {}

  async list(): Promise<StoredDatasource[]> {
    const [rows] = await this.pool.query<Row[]>('SELECT definition, version FROM datasources ORDER BY name');
    return rows.map(toStoredDatasource);
  }

  async get(name: string): Promise<StoredDatasource | undefined> {
    const [rows] = await this.pool.query<Row[]>(
      'SELECT definition, version FROM datasources WHERE name = ?',
      [name],
    );
    return rows[0] ? toStoredDatasource(rows[0]) : undefined;
  }

  async create(ds: Datasource): Promise<StoredDatasource> {
    const now = new Date();
    try {
      await this.pool.query(
        'INSERT INTO datasources (name, definition, version, created_at, updated_at) VALUES (?, ?, 1, ?, ?)',
        [ds.name, JSON.stringify(datasourceSchema.parse(ds)), now, now],
      );
    } catch (err) {
      if (errno(err) === ER_DUP_ENTRY) throw new AlreadyExistsError('datasource', ds.name);
      throw err;
    }
    return { datasource: ds, version: 1 };
  }

  async update(ds: Datasource, expectedVersion?: number): Promise<StoredDatasource> {
    return inTransaction(this.pool, async (c) => {
      const current = await lockVersion(c, 'datasources', ds.name, expectedVersion);
      if (current === undefined) throw new MissingError('datasource', ds.name);
      await c.query('UPDATE datasources SET definition = ?, version = ?, updated_at = ? WHERE name = ?', [
        JSON.stringify(datasourceSchema.parse(ds)),
        current + 1,
        new Date(),
        ds.name,
      ]);
      return { datasource: ds, version: current + 1 };
    });
  }

  async remove(name: string, expectedVersion?: number): Promise<boolean> {
    try {
      return await inTransaction(this.pool, async (c) => {
        const current = await lockVersion(c, 'datasources', name, expectedVersion);
        if (current === undefined) return false;
        await c.query('DELETE FROM datasources WHERE name = ?', [name]);
        return true;
      });
    } catch (err) {
      if (errno(err) === ER_ROW_IS_REFERENCED || errno(err) === ER_ROW_IS_REFERENCED_2) {
        const [rows] = await this.pool.query<Row[]>(
          'SELECT name FROM pipelines WHERE source = ? OR target = ? ORDER BY name',
          [name, name],
        );
        throw new InUseError(
          name,
          rows.map((r) => String(r.name)),
        );
      }
      throw err;
    }
  }
}

function toStoredDatasource(r: Row): StoredDatasource {
  return { datasource: datasourceSchema.parse(JSON.parse(String(r.definition))), version: Number(r.version) };
}

class MysqlPipelines implements PipelineRepository {
  constructor(private readonly pool: mysql.Pool) {}

  async list(): Promise<PipelineDefinition[]> {
    const [rows] = await this.pool.query<Row[]>(
      'SELECT config, version, created_at, updated_at FROM pipelines ORDER BY name',
    );
    return rows.map(toDefinition);
  }

  async get(name: string): Promise<PipelineDefinition | undefined> {
    const [rows] = await this.pool.query<Row[]>(
      'SELECT config, version, created_at, updated_at FROM pipelines WHERE name = ?',
      [name],
    );
    return rows[0] ? toDefinition(rows[0]) : undefined;
  }

  async create(config: PipelineConfig): Promise<PipelineDefinition> {
    const now = new Date();
    try {
      await this.pool.query(
        'INSERT INTO pipelines (name, source, target, config, version, created_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?)',
        [config.name, config.source, config.target, JSON.stringify(config), now, now],
      );
    } catch (err) {
      if (errno(err) === ER_DUP_ENTRY) throw new AlreadyExistsError('pipeline', config.name);
      if (errno(err) === ER_NO_REFERENCED_ROW) throw await this.missingDatasource(config);
      throw err;
    }
    return { config, version: 1, createdAt: now.toISOString(), updatedAt: now.toISOString() };
  }

  async update(config: PipelineConfig, expectedVersion?: number): Promise<PipelineDefinition> {
    try {
      return await inTransaction(this.pool, async (c) => {
        const current = await lockVersion(c, 'pipelines', config.name, expectedVersion);
        if (current === undefined) throw new MissingError('pipeline', config.name);
        const now = new Date();
        await c.query(
          'UPDATE pipelines SET source = ?, target = ?, config = ?, version = ?, updated_at = ? WHERE name = ?',
          [config.source, config.target, JSON.stringify(config), current + 1, now, config.name],
        );
        const [rows] = await c.query<Row[]>('SELECT created_at FROM pipelines WHERE name = ?', [config.name]);
        const created = rows[0]?.created_at;
        return {
          config,
          version: current + 1,
          createdAt: created instanceof Date ? created.toISOString() : now.toISOString(),
          updatedAt: now.toISOString(),
        };
      });
    } catch (err) {
      if (errno(err) === ER_NO_REFERENCED_ROW) throw await this.missingDatasource(config);
      throw err;
    }
  }

  async remove(name: string, expectedVersion?: number): Promise<boolean> {
    return inTransaction(this.pool, async (c) => {
      const current = await lockVersion(c, 'pipelines', name, expectedVersion);
      if (current === undefined) return false;
      await c.query('DELETE FROM pipelines WHERE name = ?', [name]);
      return true;
    });
  }

  private async missingDatasource(config: PipelineConfig): Promise<MissingError> {
    const [rows] = await this.pool.query<Row[]>('SELECT name FROM datasources WHERE name IN (?, ?)', [
      config.source,
      config.target,
    ]);
    const present = new Set(rows.map((r) => String(r.name)));
    return new MissingError('datasource', present.has(config.source) ? config.target : config.source);
  }
}

function toDefinition(r: Row): PipelineDefinition {
  return {
    config: pipelineConfigSchema.parse(JSON.parse(String(r.config))),
    version: Number(r.version),
    createdAt: (r.created_at as Date).toISOString(),
    updatedAt: (r.updated_at as Date).toISOString(),
  };
}

class MysqlTokens implements TokenRepository {
  constructor(private readonly pool: mysql.Pool) {}

  async list(): Promise<ApiToken[]> {
    const [rows] = await this.pool.query<Row[]>('SELECT name, role, sha256 FROM api_tokens ORDER BY name');
    return rows.map((r) => ({
      name: String(r.name),
      role: String(r.role) as ApiRole,
      sha256: r.sha256 as Buffer,
    }));
  }

  async put(token: ApiToken): Promise<void> {
    await this.pool.query(
      'INSERT INTO api_tokens (name, role, sha256) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE role = VALUES(role), sha256 = VALUES(sha256)',
      [token.name, token.role, token.sha256],
    );
  }
}

export interface OpenCatalogOptions {
  /** Fail when the database cannot be created (otherwise a missing right to create it is fine). */
  createDatabase?: boolean;
}

/**
 * Opens the catalog a URL names and brings its schema up to date. The pool is small: the catalog
 * is read per request and per activity start, never per row.
 */
export async function openMysqlCatalog(url: string, opts: OpenCatalogOptions = {}): Promise<Catalog> {
  const loc = parseCatalogUrl(url);
  const shown = redactCatalogUrl(url);
  const setup = await mysql.createConnection(connectionOptions(loc, false)).catch((err: Error) => {
    throw new Error(`catalog ${shown}: cannot connect: ${err.message}`);
  });
  try {
    // A user without the right to create databases gets a pre-created one: the USE below says so.
    await setup
      .query(`CREATE DATABASE IF NOT EXISTS \`${loc.database}\` CHARACTER SET utf8mb4`)
      .catch((err: unknown) => {
        if (opts.createDatabase) throw err;
      });
    await setup.query(`USE \`${loc.database}\``).catch((err: Error) => {
      throw new Error(`catalog ${shown}: ${err.message}`);
    });
    await migrate(setup);
  } finally {
    await setup.end();
  }
  const pool = mysql.createPool({ ...connectionOptions(loc, true), connectionLimit: 4, maxIdle: 1 });
  return {
    datasources: new MysqlDatasources(pool),
    pipelines: new MysqlPipelines(pool),
    tokens: new MysqlTokens(pool),
    describe: () => shown,
    close: () => pool.end(),
  };
}
