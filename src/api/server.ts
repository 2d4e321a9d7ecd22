import type { StackSettings } from '../config/stack';
import { logger } from '../util/logger';
import { createApp } from './app';

/** `otterflow api`: serves the REST API until SIGINT/SIGTERM. */
export async function runApi(s: StackSettings): Promise<void> {
  const app = createApp();
  const server = app.listen(s.apiPort, s.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  logger.info({ url: `http://${s.host}:${s.apiPort}` }, 'api started');
  await new Promise<void>((resolve) => {
    const stop = () => server.close(() => resolve());
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  logger.info('api stopped');
}
