/**
 * The verification benchmark's own servers: a MariaDB source and target and a Temporal dev server,
 * all private (ports 24930–24933, data under .otterflow/scratch/verify/bench/, wiped at every run),
 * started together and stopped at the end. Also the table both sides hold and the differences
 * planted on the target.
 */
import fs from 'node:fs';
import path from 'node:path';
import type mysql from 'mysql2/promise';
import { projectRoot } from '../../src/config/stack';
import { stopProcess } from '../../src/devstack/processes';
import { startTemporal, type TemporalDevSpec, temporalRecord } from '../../src/devstack/temporal';
import { findTemporal } from '../../src/devstack/tools';
import { type BenchServer, startBenchServer, stopBenchServer } from '../lib/instances';

export const SCRATCH = path.join(projectRoot, '.otterflow', 'scratch', 'verify', 'bench');
/** This bench's ports: source, target, Temporal, Temporal Web UI (24930–24939 are reserved for it). */
export const PORTS = { source: 24930, target: 24931, temporal: 24932, temporalUi: 24933 } as const;

export interface VerifyBenchStack {
  source: BenchServer;
  target: BenchServer;
  temporal: TemporalDevSpec;
  /** The Temporal dev server's pid (its CPU is part of what a verification costs). */
  temporalPid: number;
}

const temporalDir = path.join(SCRATCH, `temporal-${PORTS.temporal}`);
const temporalSpec: TemporalDevSpec = {
  host: '127.0.0.1',
  port: PORTS.temporal,
  uiPort: PORTS.temporalUi,
  dir: temporalDir,
  runDir: path.join(temporalDir, 'run'),
  namespace: 'default',
};

/** Starts (after stopping what an interrupted run left behind and wiping it) both servers and Temporal. */
export async function startStack(started: Partial<VerifyBenchStack>): Promise<VerifyBenchStack> {
  const binary = findTemporal();
  if (!binary) throw new Error('the temporal CLI is not installed (scripts/bootstrap.sh installs it)');
  const stale = temporalRecord(temporalSpec);
  if (stale) await stopProcess(stale);
  fs.rmSync(temporalDir, { recursive: true, force: true });
  fs.mkdirSync(temporalDir, { recursive: true });
  const opts = { scratch: SCRATCH, ports: [24930, 24939] as [number, number], prefix: 'vf' };
  // The servers one after the other (concurrent mariadb-install-db runs collide), Temporal meanwhile.
  const temporal = startTemporal(temporalSpec, binary).then(() => {
    started.temporal = temporalSpec;
  });
  temporal.catch(() => {});
  started.source = await startBenchServer('source', PORTS.source, 930, opts);
  started.target = await startBenchServer('target', PORTS.target, 931, opts);
  await temporal;
  const pid = temporalRecord(temporalSpec)?.pid;
  if (!pid) throw new Error('the Temporal dev server has no pid record after start');
  started.temporalPid = pid;
  return started as VerifyBenchStack;
}

/** Stops whatever `startStack` started (also after a failed start). */
export async function stopStack(started: Partial<VerifyBenchStack>): Promise<void> {
  const temporal = temporalRecord(temporalSpec);
  await Promise.all([
    stopBenchServer(started.source),
    stopBenchServer(started.target),
    temporal && stopProcess(temporal),
  ]);
}

export const TABLE = 'shop.orders';

const DDL = `CREATE TABLE shop.orders (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY, customer INT NOT NULL, status VARCHAR(16) NOT NULL,
  amount DECIMAL(12,2) NOT NULL, created DATETIME(3) NOT NULL, note VARCHAR(200) NULL, KEY (customer))`;

/** The same `rows` rows on a server (deterministic: both sides end up identical). */
export async function createAndFill(conn: mysql.Connection, rows: number): Promise<void> {
  await conn.query('CREATE DATABASE shop');
  await conn.query(DDL);
  await conn.query('USE shop'); // the seq_1_to_N tables of the SEQUENCE engine need a current database
  await conn.query(
    `INSERT INTO shop.orders SELECT seq, seq % 50000, ELT(1 + seq % 4, 'new', 'paid', 'shipped', 'closed'),
       (seq % 100000) / 7, '2024-01-01 00:00:00' + INTERVAL seq SECOND, IF(seq % 3 = 0, NULL, REPEAT('n', seq % 60))
     FROM seq_1_to_${Math.floor(rows)}`,
  );
  await conn.query('ANALYZE TABLE shop.orders');
}

export interface Planted {
  /** Keys changed on the target, by what the target now lacks, holds extra or holds differently. */
  missing: string[];
  extra: string[];
  different: string[];
}

export const allPlanted = (p: Planted): string[] => [...p.missing, ...p.extra, ...p.different].sort(byNumber);

export const byNumber = (a: string, b: string) => Number(a) - Number(b);

/**
 * Drift on the target, spread over the key space: `changed` existing rows (every third deleted, the
 * others updated in one column, or in the nullable column) and one row the source does not have.
 */
export async function plantDifferences(
  tgt: mysql.Connection,
  rows: number,
  changed: number,
): Promise<Planted> {
  const planted: Planted = { missing: [], extra: [], different: [] };
  const step = Math.floor(rows / (changed + 1));
  for (let i = 1; i <= changed; i++) {
    const id = i * step;
    if (i % 3 === 0) {
      await tgt.query('DELETE FROM shop.orders WHERE id = ?', [id]);
      planted.missing.push(String(id));
    } else {
      const set = i % 2 ? "status = 'drifted'" : "note = IF(note IS NULL, '', NULL)";
      await tgt.query(`UPDATE shop.orders SET ${set} WHERE id = ?`, [id]);
      planted.different.push(String(id));
    }
  }
  await tgt.query("INSERT INTO shop.orders VALUES (?, 1, 'extra', 1, '2024-01-01', NULL)", [rows + 10]);
  planted.extra.push(String(rows + 10));
  return planted;
}
