import { spawnSync } from 'node:child_process';
import { which } from '../../src/devstack/tools';

/**
 * Returns Debian's `docker-compose` (1.29, Python): it validates a compose file against the compose
 * schema and resolves it (`config`) without a Docker engine. Installed with apt-get when missing and
 * running as root (CI); otherwise throws with the command to run, so the caller can skip with it.
 */
export function ensureDockerCompose(log: (line: string) => void): string {
  const found = which('docker-compose');
  if (found) return found;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !which('apt-get'))
    throw new Error('docker-compose is not installed: sudo apt-get install -y docker-compose');
  log('docker-compose not found: installing it with apt-get (once)…');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', 'docker-compose'],
  ]) {
    const r = spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'pipe'], env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (exit ${r.status}): ${r.stderr}`);
  }
  const installed = which('docker-compose');
  if (!installed) throw new Error('docker-compose was installed but is still not on PATH');
  return installed;
}
