import { Command } from 'commander';
import { runApi } from '../api/server';
import { stackSettingsFromEnv } from '../config/stack';
import { runWorker } from '../worker/run';
import { registerBackfillCommands } from './backfill';
import { registerBinlogCommands } from './binlog';
import { registerDatasourceCommands } from './datasource';
import { registerDevCommands } from './dev';
import { registerPipelineCommands } from './pipeline';
import { registerVerifyCommands } from './verify';

const program = new Command();
program.name('otterflow').description('MySQL/MariaDB binlog replication on Temporal').version('0.1.0');

registerDevCommands(program);
registerBinlogCommands(program);
registerDatasourceCommands(program);
registerPipelineCommands(program);
registerBackfillCommands(program);
registerVerifyCommands(program);

program
  .command('worker')
  .description('run a Temporal worker that executes pipeline workflows and activities')
  .action(async () => {
    await runWorker(stackSettingsFromEnv());
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
