import fs from 'node:fs';
import path from 'node:path';
import { catalogFile, type Datasource, DatasourceCatalog } from '../config/datasources';
import { PipelineStore, pipelineStoreFile } from '../service/pipeline-store';
import { AlreadyExistsError, type Catalog } from './types';

export interface JsonImportReport {
  datasources: string[];
  pipelines: string[];
  /** Names already in the catalog, left as they are there. */
  skipped: string[];
  /** The files, renamed after the import (so it happens once). */
  renamed: string[];
}

/**
 * Imports the JSON catalog files of an OTTERFLOW_HOME (datasources.json, pipelines.json) into a
 * catalog database, once: afterwards the files are renamed to `*.imported`. A definition whose name
 * the catalog already holds is skipped (the catalog wins). A password the API had stored for a
 * datasource stays in `$OTTERFLOW_HOME/secrets` and is referred to as a stored password.
 */
export async function importJsonCatalog(
  home: string,
  catalog: Catalog,
): Promise<JsonImportReport | undefined> {
  const dsFile = catalogFile(home);
  const plFile = pipelineStoreFile(home);
  const present = [dsFile, plFile].filter((f) => fs.existsSync(f));
  if (present.length === 0) return undefined;
  const report: JsonImportReport = { datasources: [], pipelines: [], skipped: [], renamed: [] };
  const secrets = path.resolve(home, 'secrets');
  for (const ds of fs.existsSync(dsFile) ? new DatasourceCatalog(dsFile).list() : []) {
    const record: Datasource = { ...ds };
    // The API's own password files are found by name in each process's secrets folder.
    if (record.passwordFile && path.dirname(path.resolve(record.passwordFile)) === secrets) {
      delete record.passwordFile;
      record.passwordStored = true;
    }
    await add(() => catalog.datasources.create(record), ds.name, report.datasources, report.skipped);
  }
  for (const def of fs.existsSync(plFile) ? new PipelineStore(plFile).list() : []) {
    await add(() => catalog.pipelines.create(def.config), def.config.name, report.pipelines, report.skipped);
  }
  for (const f of present) {
    fs.renameSync(f, `${f}.imported`);
    report.renamed.push(`${f}.imported`);
  }
  return report;
}

async function add(create: () => Promise<unknown>, name: string, done: string[], skipped: string[]) {
  try {
    await create();
    done.push(name);
  } catch (err) {
    if (!(err instanceof AlreadyExistsError)) throw err;
    skipped.push(name);
  }
}

export function describeJsonImport(r: JsonImportReport, catalog: string): string {
  const parts = [
    `imported ${r.datasources.length} datasource(s) and ${r.pipelines.length} pipeline(s) into the catalog ${catalog}`,
  ];
  if (r.skipped.length) parts.push(`already there, kept: ${r.skipped.join(', ')}`);
  parts.push(`the JSON files were renamed to ${r.renamed.map((f) => path.basename(f)).join(', ')}`);
  return parts.join('; ');
}
