import { Command } from 'commander';

const program = new Command();
program.name('otterflow').description('MySQL/MariaDB binlog replication on Temporal').version('0.1.0');

// `binlog …` needs only the decoder: loading the rest (Temporal client, API server, worker) cost
// more than decoding a 30 MB file, so the other commands are registered only when asked for.
if (process.argv[2] === 'binlog') {
  (require('./binlog') as typeof import('./binlog')).registerBinlogCommands(program);
} else {
  registerAll(program);
}

function registerAll(p: Command): void {
  const { stackSettingsFromEnv } = require('../config/stack') as typeof import('../config/stack');
  (require('./dev') as typeof import('./dev')).registerDevCommands(p);
  (require('./binlog') as typeof import('./binlog')).registerBinlogCommands(p);
  (require('./datasource') as typeof import('./datasource')).registerDatasourceCommands(p);
  (require('./pipeline') as typeof import('./pipeline')).registerPipelineCommands(p);
  (require('./backfill') as typeof import('./backfill')).registerBackfillCommands(p);
  (require('./catalog') as typeof import('./catalog')).registerCatalogCommands(p);

  p.command('worker')
    .description('run a Temporal worker that executes pipeline workflows and activities')
    .option(
      '--region <region>',
      'serve the pipelines of this region (task queue <queue>-<region>; env OTTERFLOW_REGION)',
    )
    .action(async (opts: { region?: string }) => {
      const { runWorker } = require('../worker/run') as typeof import('../worker/run');
      await runWorker(
        stackSettingsFromEnv(opts.region ? { ...process.env, OTTERFLOW_REGION: opts.region } : process.env),
      );
    });

  p.command('api')
    .description('run the REST API server')
    .action(async () => {
      const { runApi } = require('../api/server') as typeof import('../api/server');
      await runApi(stackSettingsFromEnv());
    });
}

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`otterflow: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
