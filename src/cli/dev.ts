import type { Command } from 'commander';
import { type StackSettings, stackSettingsFromEnv } from '../config/stack';
import { ensureMysql } from '../devstack/mysql-root';
import { down, status, up } from '../devstack/stack';
import { ensureMariaDb, ensureTemporal } from '../devstack/tools';
import { runDemo } from './demo';

const say = (line: string) => process.stderr.write(`${line}\n`);

function printUrls(s: StackSettings, withMysql: boolean): void {
  const mysqlLines = withMysql
    ? `
  MySQL 9 source      mysql -h ${s.host} -P ${s.mysqlSourcePort} -u root   (server id ${s.mysqlSourceServerId}, GTID mode ON, datasource "mysql-source")
  MySQL 9 target      mysql -h ${s.host} -P ${s.mysqlTargetPort} -u root   (server id ${s.mysqlTargetServerId}, datasource "mysql-target")`
    : '';
  console.log(`
Otterflow local stack (state in ${s.home})
  API                 http://${s.host}:${s.apiPort}   (docs: /docs, health: /healthz)
  Status page         http://${s.host}:${s.apiPort}/status   (paste a token from ${s.home}/api-tokens.json)
  Temporal Web UI     http://${s.host}:${s.temporalUiPort}
  Temporal gRPC       ${s.host}:${s.temporalPort}   namespace "${s.namespace}", task queue "${s.taskQueue}"
  MariaDB source      mysql -h ${s.host} -P ${s.sourcePort} -u root   (server id ${s.sourceServerId}, binlog ROW/FULL)
  MariaDB target      mysql -h ${s.host} -P ${s.targetPort} -u root   (server id ${s.targetServerId})${mysqlLines}
  Worker metrics      http://${s.host}:${s.metricsPort}/metrics
Stop it with: node bin/otterflow.js dev down   (add --wipe to delete the data too)`);
}

export function registerDevCommands(program: Command): void {
  const dev = program
    .command('dev')
    .description('the embedded local stack: Temporal dev server, two MariaDB (and two MySQL 9), worker, API');

  dev
    .command('install')
    .description('install the MariaDB server, the temporal CLI and MySQL 9 when they are missing')
    .option('--without-mysql', 'do not build the MySQL 9 folder')
    .action((opts: { withoutMysql?: boolean }) => {
      const m = ensureMariaDb(say);
      const t = ensureTemporal(say);
      say(`mariadbd: ${m.mariadbd}\ntemporal: ${t}`);
      if (opts.withoutMysql) return;
      const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
      try {
        const mysql = ensureMysql(say);
        say(`mysqld:   MySQL ${mysql.version} in ${mysql.root}`);
      } catch (err) {
        // Without root the MariaDB stack still works; say what the MySQL part needs.
        if (isRoot) throw err;
        say(`MySQL 9 is not available (the MariaDB stack works without it):\n${(err as Error).message}`);
      }
    });

  dev
    .command('up')
    .description('start the local stack (idempotent: running parts are left alone)')
    .option('--infra-only', 'start only Temporal and the databases')
    .option(
      '--with-mysql',
      'also start a MySQL 9 source and target (built once from Debian sid; needs root then)',
    )
    .option('--demo', 'then run the demo pipeline')
    .action(async (opts: { infraOnly?: boolean; withMysql?: boolean; demo?: boolean }) => {
      const s = stackSettingsFromEnv();
      const report = await up(s, say, { infraOnly: opts.infraOnly, withMysql: opts.withMysql });
      for (const [name, state] of Object.entries(report.components)) say(`  ${name.padEnd(16)} ${state}`);
      printUrls(s, opts.withMysql === true);
      if (opts.demo) {
        await runDemo(s);
      }
    });

  dev
    .command('down')
    .description('stop what `dev up` started (only processes recorded in our pid files)')
    .option('--wipe', 'also delete the data: databases, Temporal history, logs')
    .action(async (opts: { wipe?: boolean }) => {
      const s = stackSettingsFromEnv();
      const stopped = await down(s, say, { wipe: opts.wipe });
      say(stopped.length ? `stopped: ${stopped.join(', ')}` : 'nothing of ours was running');
    });

  dev
    .command('status')
    .description('show which parts of the local stack are running')
    .option('--json', 'machine-readable output')
    .action((opts: { json?: boolean }) => {
      const s = stackSettingsFromEnv();
      const rows = status(s);
      if (opts.json) {
        console.log(JSON.stringify(rows, null, 2));
        return;
      }
      for (const r of rows) {
        console.log(
          `${r.component.padEnd(16)} ${r.running ? `running (pid ${r.pid})` : 'stopped'.padEnd(18)}  ${r.detail}`,
        );
      }
    });
}
