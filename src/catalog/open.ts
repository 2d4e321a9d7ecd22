import { openFileCatalog } from './file-catalog';
import { openMysqlCatalog } from './mysql-catalog';
import type { Catalog } from './types';

/**
 * The catalog of a process: the database OTTERFLOW_CATALOG_URL names, else (one host only) the
 * JSON files under OTTERFLOW_HOME. With a URL set, no catalog file is read or written.
 */
export async function openCatalog(opts: { catalogUrl?: string; home: string }): Promise<Catalog> {
  if (opts.catalogUrl) return openMysqlCatalog(opts.catalogUrl);
  return openFileCatalog(opts.home);
}
