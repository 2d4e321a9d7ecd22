import fs from 'node:fs';
import type { Command } from 'commander';
import YAML from 'yaml';
import { apiClientFromEnv } from './api-client';
import { printJson, runCommand, table } from './output';

/** Reads a definition file: YAML or JSON (JSON is YAML), `-` for standard input. */
export function readDefinitionFile(file: string): unknown {
  const text = file === '-' ? fs.readFileSync(0, 'utf8') : fs.readFileSync(file, 'utf8');
  try {
    return YAML.parse(text) as unknown;
  } catch (err) {
    throw new Error(`${file}: not valid YAML or JSON: ${(err as Error).message}`);
  }
}

interface DatasourceView {
  name: string;
  kind: string;
  host: string;
  port: number;
  user: string;
  passwordSource: string;
  passwordEnv?: string;
}

interface AddOptions {
  file?: string;
  kind?: string;
  host?: string;
  port?: string;
  user?: string;
  passwordEnv?: string;
  passwordStdin?: boolean;
  serviceName?: string;
  json?: boolean;
}

/**
 * `otterflow datasource add|update|list|get|test|check|remove`: the datasource API over HTTP.
 * A password is read from standard input (--password-stdin), never from the command line, where
 * other users could see it in the process list.
 */
export function registerDatasourceCommands(program: Command): void {
  const ds = program.command('datasource').description('register and check datasources (through the API)');

  const definition = (name: string | undefined, o: AddOptions): Record<string, unknown> => {
    const fromFile = o.file ? (readDefinitionFile(o.file) as Record<string, unknown>) : {};
    const def: Record<string, unknown> = { ...fromFile };
    if (name) def.name = name;
    if (o.kind) def.kind = o.kind;
    if (o.host) def.host = o.host;
    if (o.port) def.port = Number(o.port);
    if (o.user) def.user = o.user;
    if (o.passwordEnv) def.passwordEnv = o.passwordEnv;
    if (o.serviceName) def.serviceName = o.serviceName;
    if (o.passwordStdin) def.password = fs.readFileSync(0, 'utf8').replace(/\r?\n$/, '');
    return def;
  };
  const withOptions = (c: Command) =>
    c
      .option('-f, --file <file>', 'definition as YAML or JSON (- for stdin); options override its fields')
      .option('--kind <kind>', 'mysql | mariadb | oracle')
      .option('--host <host>')
      .option('--port <port>')
      .option('--user <user>')
      .option('--password-env <VAR>', 'the workers read the password from this environment variable')
      .option('--password-stdin', 'read the password from standard input (stored by the API in a 0600 file)')
      .option('--service-name <name>', 'Oracle service name')
      .option('--json', 'print JSON');

  withOptions(ds.command('add [name]').description('register a datasource')).action(
    (name: string | undefined, o: AddOptions) =>
      runCommand(o.json, async () => {
        const view = (await apiClientFromEnv().createDatasource(definition(name, o))) as DatasourceView;
        if (o.json) printJson(view);
        else console.log(`datasource ${view.name} registered (${describe(view)})`);
      }),
  );

  withOptions(ds.command('update <name>').description('replace a datasource definition')).action(
    (name: string, o: AddOptions) =>
      runCommand(o.json, async () => {
        const view = (await apiClientFromEnv().updateDatasource(
          name,
          definition(undefined, o),
        )) as DatasourceView;
        if (o.json) printJson(view);
        else console.log(`datasource ${view.name} updated (${describe(view)})`);
      }),
  );

  ds.command('list')
    .description('list datasources')
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }) =>
      runCommand(o.json, async () => {
        const all = (await apiClientFromEnv().listDatasources()) as DatasourceView[];
        if (o.json) return printJson(all);
        if (all.length === 0) return console.log('no datasources');
        console.log(
          table([
            ['NAME', 'KIND', 'ADDRESS', 'USER', 'PASSWORD'],
            ...all.map((d) => [d.name, d.kind, `${d.host}:${d.port}`, d.user, passwordText(d)]),
          ]),
        );
      }),
    );

  ds.command('get <name>')
    .description('show a datasource')
    .option('--json', 'print JSON')
    .action((name: string, o: { json?: boolean }) =>
      runCommand(o.json, async () => {
        const d = (await apiClientFromEnv().getDatasource(name)) as DatasourceView;
        if (o.json) printJson(d);
        else console.log(`${d.name}: ${describe(d)}`);
      }),
    );

  ds.command('test <name>')
    .description('connect to the datasource')
    .option('--json', 'print JSON')
    .action((name: string, o: { json?: boolean }) =>
      runCommand(o.json, async () => {
        const r = await apiClientFromEnv().testDatasource(name);
        if (o.json) printJson(r);
        else console.log(`${name}: connected, server ${r.serverVersion} (${r.elapsedMs} ms)`);
      }),
    );

  ds.command('check <name>')
    .description('check the datasource as a replication source; each failed check prints its fix')
    .option('--json', 'print JSON')
    .action((name: string, o: { json?: boolean }) =>
      runCommand(o.json, async () => {
        const r = await apiClientFromEnv().checkDatasource(name);
        if (o.json) printJson(r);
        else {
          console.log(
            `${name} (${r.serverVersion}): ${r.ready ? 'ready to be a source' : 'NOT ready to be a source'}`,
          );
          for (const c of r.checks) {
            console.log(`  ${c.ok ? 'ok  ' : 'FAIL'}  ${c.name}${c.ok ? '' : ` = ${c.actual}`}`);
            if (!c.ok && c.fix) console.log(`        fix: ${c.fix}`);
          }
        }
        if (!r.ready) process.exitCode = 1;
      }),
    );

  ds.command('remove <name>')
    .description('remove a datasource (refused while a pipeline uses it)')
    .action((name: string) =>
      runCommand(false, async () => {
        await apiClientFromEnv().removeDatasource(name);
        console.log(`datasource ${name} removed`);
      }),
    );
}

function passwordText(d: DatasourceView): string {
  if (d.passwordSource === 'env') return `env ${d.passwordEnv}`;
  return d.passwordSource;
}

function describe(d: DatasourceView): string {
  return `${d.kind} ${d.user}@${d.host}:${d.port}, password: ${passwordText(d)}`;
}
