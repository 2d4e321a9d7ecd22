import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../src/config/stack';
import { which } from '../../src/devstack/tools';

/** The schemathesis release the API fuzz test runs (PyPI), installed into .tools/ like the temporal CLI. */
export const SCHEMATHESIS_VERSION = '4.32.5';
const DIR = path.join(projectRoot, '.tools', 'schemathesis');

export interface Schemathesis {
  /** The `st` entry point. */
  bin: string;
  python: string;
  /** Environment that makes the `--target` install importable. */
  env: NodeJS.ProcessEnv;
}

/**
 * Returns schemathesis, installing it from PyPI into .tools/schemathesis when missing. Throws with
 * the reason (no python3, pip failed) so the caller can say why the fuzz test is skipped.
 */
export function ensureSchemathesis(log: (line: string) => void): Schemathesis {
  const python = which('python3') ?? which('python');
  if (!python) throw new Error('python3 is not installed (schemathesis comes from PyPI)');
  const env = { ...process.env, PYTHONPATH: DIR, PYTHONDONTWRITEBYTECODE: '1' };
  const bin = path.join(DIR, 'bin', 'st');
  const installed = () =>
    fs.existsSync(bin) &&
    spawnSync(python, [bin, '--version'], { env, encoding: 'utf8' }).stdout.includes(SCHEMATHESIS_VERSION);
  if (!installed()) {
    log(`installing schemathesis ${SCHEMATHESIS_VERSION} from PyPI into .tools/schemathesis (once)…`);
    fs.rmSync(DIR, { recursive: true, force: true });
    const r = spawnSync(
      python,
      [
        '-m',
        'pip',
        'install',
        '-q',
        '--disable-pip-version-check',
        '--target',
        DIR,
        `schemathesis==${SCHEMATHESIS_VERSION}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' },
    );
    if (r.status !== 0)
      throw new Error(`pip install schemathesis failed (exit ${r.status}): ${r.stderr.slice(-500)}`);
    if (!installed()) throw new Error(`schemathesis installed but ${bin} does not run`);
  }
  return { bin, python, env };
}
