import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Command } from 'commander';
import { describeJsonImport, importJsonCatalog } from '../catalog/import-json';
import { openMysqlCatalog } from '../catalog/mysql-catalog';
import { redactCatalogUrl } from '../catalog/url';
import { stackSettingsFromEnv } from '../config/stack';
import { sha256 } from '../service/api-tokens';

const say = (line: string) => process.stderr.write(`${line}\n`);

function requireUrl(): string {
  const url = stackSettingsFromEnv().catalogUrl;
  if (!url) throw new Error('set OTTERFLOW_CATALOG_URL (mysql://user:password@host:port/database)');
  return url;
}

/** `otterflow catalog …`: the catalog database of a deployment (OTTERFLOW_CATALOG_URL). */
export function registerCatalogCommands(program: Command): void {
  const catalog = program
    .command('catalog')
    .description('the catalog database named by OTTERFLOW_CATALOG_URL');

  catalog
    .command('migrate')
    .description(
      'create the schema or bring it to the newest version (every process also does this on start)',
    )
    .option('--create-database', 'CREATE DATABASE IF NOT EXISTS first')
    .action(async (opts: { createDatabase?: boolean }) => {
      const url = requireUrl();
      const c = await openMysqlCatalog(url, { createDatabase: opts.createDatabase === true });
      await c.close();
      say(`catalog ${redactCatalogUrl(url)} is up to date`);
    });

  catalog
    .command('import')
    .description('import the JSON catalog (datasources.json, pipelines.json) of an OTTERFLOW_HOME, once')
    .option('--home <dir>', 'the folder holding the JSON files', stackSettingsFromEnv().home)
    .action(async (opts: { home: string }) => {
      const url = requireUrl();
      const c = await openMysqlCatalog(url);
      try {
        const report = await importJsonCatalog(path.resolve(opts.home), c);
        say(report ? describeJsonImport(report, c.describe()) : `no JSON catalog files under ${opts.home}`);
      } finally {
        await c.close();
      }
    });

  catalog
    .command('add-token')
    .description('create an API token: prints it once, stores only its SHA-256 in the catalog')
    .requiredOption('--name <name>', 'who uses it (shown in the API log)')
    .option('--role <role>', 'admin or readonly', 'readonly')
    .action(async (opts: { name: string; role: string }) => {
      if (opts.role !== 'admin' && opts.role !== 'readonly')
        throw new Error('--role must be admin or readonly');
      const c = await openMysqlCatalog(requireUrl());
      try {
        const token = `otf_${randomBytes(24).toString('base64url')}`;
        await c.tokens.put({ name: opts.name, role: opts.role, sha256: sha256(token) });
        console.log(token);
      } finally {
        await c.close();
      }
    });
}
