import { DefaultLogger, type LogLevel, Runtime } from '@temporalio/worker';

let installed = false;

/**
 * Installs the Temporal SDK runtime once per process with a log level of our choosing (the SDK's
 * default INFO prints the whole webpack bundle report on every worker start). Must run before the
 * first NativeConnection or Worker is created.
 */
export function installRuntime(
  level: LogLevel = (process.env.OTTERFLOW_SDK_LOG_LEVEL as LogLevel) ?? 'WARN',
): void {
  if (installed) return;
  installed = true;
  Runtime.install({ logger: new DefaultLogger(level) });
}
