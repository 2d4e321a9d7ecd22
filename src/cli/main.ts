import { Command } from 'commander';
import { runApi } from '../api/server';
import { stackSettingsFromEnv } from '../config/stack';
import { runWorker } from '../worker/run';
import { registerBackfillCommands } from './backfill';
import { registerBinlogCommands } from './binlog';
import { registerCatalogCommands } from './catalog';
import { registerDatasourceCommands } from './datasource';
import { registerDevCommands } from './dev';
import { registerPipelineCommands } from './pipeline';

const program = new Command();
program.name('otterflow').description('MySQL/MariaDB binlog replication on Temporal').version('0.1.0');

registerDevCommands(program);
registerBinlogCommands(program);
registerDatasourceCommands(program);
registerPipelineCommands(program);
registerBackfillCommands(program);
registerCatalogCommands(program);

program
  .command('worker')
  .description('run a Temporal worker that executes pipeline workflows and activities')
  .option(
    '--region <region>',
    'serve the pipelines of this region (task queue <queue>-<region>; env OTTERFLOW_REGION)',
  )
  .action(async (opts: { region?: string }) => {
    const s = stackSettingsFromEnv(
      opts.region ? { ...process.env, OTTERFLOW_REGION: opts.region } : process.env,
    );
    await runWorker(s);
  });

program
  .command('api')
  .description('run the REST API server')
  .action(async () => {
    await runApi(stackSettingsFromEnv());
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`otterflow: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
