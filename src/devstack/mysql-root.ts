import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../config/stack';
import { type Log, which } from './tools';

/**
 * MySQL 9.x for the local and test stacks. Debian's bookworm has no MySQL server, but sid carries
 * `mysql-server-core`; mmdebstrap unpacks it (with the sid libraries it needs) into a folder of the
 * project once. The server then runs through that folder's own dynamic loader, so no chroot is needed
 * at run time and its data directories can live anywhere (building the folder needs root).
 */

/** Where the folder is built unless OTTERFLOW_MYSQL_ROOT names another one. */
export const LOCAL_MYSQL_ROOT = path.join(projectRoot, '.tools', 'mysql-root');
/** Written last by a build that finished, so a half-built folder is never taken for a complete one. */
const COMPLETE_MARKER = '.otterflow-mysql-root';
const PACKAGES = 'mysql-server-core,mysql-client-core';

export interface MysqlTools {
  /** The folder that holds usr/sbin/mysqld and its libraries. */
  root: string;
  /** The MySQL server version the folder holds, e.g. "9.7.4". */
  version: string;
}

function isComplete(root: string): boolean {
  return fs.existsSync(path.join(root, COMPLETE_MARKER)) && fs.existsSync(path.join(root, 'usr/sbin/mysqld'));
}

export function findMysql(): MysqlTools | undefined {
  const explicit = process.env.OTTERFLOW_MYSQL_ROOT;
  if (explicit) {
    if (!fs.existsSync(path.join(explicit, 'usr/sbin/mysqld')))
      throw new Error(`OTTERFLOW_MYSQL_ROOT points to ${explicit}, which has no usr/sbin/mysqld`);
    return { root: explicit, version: versionOf(explicit) };
  }
  return isComplete(LOCAL_MYSQL_ROOT)
    ? { root: LOCAL_MYSQL_ROOT, version: versionOf(LOCAL_MYSQL_ROOT) }
    : undefined;
}

function versionOf(root: string): string {
  const r = spawnSync(mysqldLauncher(root).command, [...mysqldLauncher(root).args, '--version'], {
    encoding: 'utf8',
  });
  return /Ver\s+(\d+\.\d+\.\d+)/.exec(r.stdout ?? '')?.[1] ?? 'unknown';
}

/**
 * How to run a program of the root from outside it: the root's own ld.so with the root's library
 * folders (its glibc is newer than the host's).
 */
export function rootLauncher(root: string, program: string): { command: string; args: string[] } {
  const libs = ['usr/lib/x86_64-linux-gnu', 'usr/lib/x86_64-linux-gnu/private']
    .map((d) => path.join(root, d))
    .filter((d) => fs.existsSync(d))
    .join(':');
  return {
    command: path.join(root, 'usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2'),
    args: ['--library-path', libs, path.join(root, program)],
  };
}

export function mysqldLauncher(root: string): { command: string; args: string[] } {
  return rootLauncher(root, 'usr/sbin/mysqld');
}

/** The Debian mirror apt already uses here (so a machine behind a local mirror keeps using it). */
export function debianMirror(): string {
  if (process.env.OTTERFLOW_DEBIAN_MIRROR) return process.env.OTTERFLOW_DEBIAN_MIRROR;
  const deb822 = '/etc/apt/sources.list.d/debian.sources';
  if (fs.existsSync(deb822)) {
    for (const stanza of fs.readFileSync(deb822, 'utf8').split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
      if (uri && !/security/.test(uri)) return uri;
    }
  }
  const list = '/etc/apt/sources.list';
  if (fs.existsSync(list)) {
    const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+/m.exec(fs.readFileSync(list, 'utf8'));
    if (m?.[1] && !/security/.test(m[1])) return m[1];
  }
  return 'http://deb.debian.org/debian';
}

/** The command that builds the folder, for messages. */
export function buildCommand(dir = LOCAL_MYSQL_ROOT): string {
  return (
    `mmdebstrap --mode=root --variant=essential --include=${PACKAGES} ` +
    `--aptopt='Acquire::Check-Valid-Until "false"' sid ${dir} ${debianMirror()}`
  );
}

function run(command: string, args: string[], what: string): void {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const r = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'], env, encoding: 'utf8' });
  if (r.status !== 0)
    throw new Error(
      `${what} failed (exit ${r.status}):\n${(r.stderr ?? '').trim().split('\n').slice(-15).join('\n')}`,
    );
}

/**
 * Returns the MySQL folder, building it once when missing (as root: apt-get install mmdebstrap, then
 * mmdebstrap of Debian sid's mysql-server-core). Without root it stops with what to run.
 */
export function ensureMysql(log: Log): MysqlTools {
  const found = findMysql();
  if (found) return found;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) {
    throw new Error(
      `MySQL 9 for the local stack is not built yet (${LOCAL_MYSQL_ROOT}). Building it needs root, once:\n` +
        `  sudo apt-get install -y mmdebstrap\n  sudo ${buildCommand()} && sudo touch ${path.join(LOCAL_MYSQL_ROOT, COMPLETE_MARKER)}\n` +
        '(or set OTTERFLOW_MYSQL_ROOT to a folder that holds usr/sbin/mysqld; run the MariaDB-only stack without --with-mysql).',
    );
  }
  if (!which('mmdebstrap')) {
    if (!which('apt-get'))
      throw new Error('building MySQL 9 needs mmdebstrap, and there is no apt-get to install it');
    log('mmdebstrap not found: installing it with apt-get (once)…');
    run('apt-get', ['update', '-qq'], 'apt-get update');
    run('apt-get', ['install', '-y', '-qq', 'mmdebstrap'], 'apt-get install mmdebstrap');
  }
  // Built beside the final place and renamed at the end: an interrupted build leaves no folder that
  // looks finished.
  const partial = `${LOCAL_MYSQL_ROOT}.partial`;
  fs.rmSync(partial, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(LOCAL_MYSQL_ROOT), { recursive: true });
  log(`MySQL 9 not found: building it from Debian sid into ${LOCAL_MYSQL_ROOT} (once, about 15 s)…`);
  run(
    'mmdebstrap',
    [
      '--mode=root',
      '--variant=essential',
      `--include=${PACKAGES}`,
      '--aptopt=Acquire::Check-Valid-Until "false"',
      'sid',
      partial,
      debianMirror(),
    ],
    'mmdebstrap (building the MySQL 9 folder)',
  );
  fs.rmSync(LOCAL_MYSQL_ROOT, { recursive: true, force: true });
  fs.renameSync(partial, LOCAL_MYSQL_ROOT);
  fs.writeFileSync(path.join(LOCAL_MYSQL_ROOT, COMPLETE_MARKER), `${buildCommand()}\n`);
  const built = findMysql();
  if (!built) throw new Error(`mmdebstrap finished but ${LOCAL_MYSQL_ROOT} has no usr/sbin/mysqld`);
  return built;
}
