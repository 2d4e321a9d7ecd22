import type { ConnectionOptions } from 'mysql2';

/** Default database name of the catalog (the local stack's and a URL's without a path). */
export const DEFAULT_CATALOG_DATABASE = 'otterflow_catalog';

export interface CatalogLocation {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/**
 * Parses OTTERFLOW_CATALOG_URL: `mysql://user:password@host:port/database` (`mariadb://` too).
 * Throws naming the variable and what is wrong, never repeating the password.
 */
export function parseCatalogUrl(url: string, variable = 'OTTERFLOW_CATALOG_URL'): CatalogLocation {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`${variable}: not a URL (expected mysql://user:password@host:port/database)`);
  }
  if (u.protocol !== 'mysql:' && u.protocol !== 'mariadb:')
    throw new Error(`${variable}: scheme must be mysql:// or mariadb://, not ${u.protocol}//`);
  if (!u.hostname) throw new Error(`${variable}: the host is missing`);
  if (!u.username) throw new Error(`${variable}: the user is missing (mysql://user@host/...)`);
  const database = decodeURIComponent(u.pathname.replace(/^\//, '')) || DEFAULT_CATALOG_DATABASE;
  if (!/^[A-Za-z0-9_]{1,64}$/.test(database))
    throw new Error(`${variable}: database name "${database}" must be letters, digits and _ only`);
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : 3306,
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database,
  };
}

/** The URL as shown to people: the password replaced by `***`. */
export function redactCatalogUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid OTTERFLOW_CATALOG_URL)';
  }
}

/** The URL of the local stack's catalog: a database on the stack's target MariaDB (root, no password). */
export function localCatalogUrl(host: string, port: number): string {
  return `mysql://root@${host}:${port}/${DEFAULT_CATALOG_DATABASE}`;
}

export function connectionOptions(loc: CatalogLocation, withDatabase: boolean): ConnectionOptions {
  return {
    host: loc.host,
    port: loc.port,
    user: loc.user,
    password: loc.password,
    ...(withDatabase ? { database: loc.database } : {}),
    timezone: 'Z',
    charset: 'utf8mb4_general_ci',
    connectTimeout: 10_000,
  };
}
