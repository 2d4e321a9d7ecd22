/**
 * The baselines of the verification benchmark, each a child `bash` that runs the tool(s) and then
 * prints `times` (the CPU its waited-for children used: the tool's own CPU-seconds):
 *
 * - `pt-table-sync --print`: compares the tables chunk by chunk and prints the statements that would
 *   make the target equal the source (`--dry-run` would read no rows: it only picks an algorithm);
 * - dump-and-diff: both sides dumped in key order at once (`mariadb-dump --order-by-primary
 *   --skip-extended-insert`, one row a line) to files, then `diff` of the files.
 *
 * Each also yields the keys it found different, so the benchmark can check that it did the work.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { byNumber, SCRATCH, TABLE } from './stack';

export interface ToolRun {
  seconds: number;
  /** CPU-seconds (user + system) of the tool's processes. */
  toolCpuSeconds: number;
  /** Keys the tool found different (sorted, unique). */
  keys: string[];
  /** What the tool printed about the differences (statements, or changed lines of the diff). */
  lines: number;
}

/** Runs `script` in bash, then `times`; returns the wall seconds, its exit status and the children's CPU. */
function runTimed(script: string): Promise<{ seconds: number; status: number; cpu: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn('bash', ['-c', `${script}\nrc=$?\ntimes\nexit $rc`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', reject);
    child.on('close', (status) => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      // `times` prints the shell's own user/system, then its children's: `0m1.234s 0m0.056s`.
      const childLine = out.trim().split('\n').at(-1) ?? '';
      const cpu = [...childLine.matchAll(/(\d+)m([\d.]+)s/g)].reduce(
        (sum, m) => sum + Number(m[1]) * 60 + Number(m[2]),
        0,
      );
      resolve({ seconds, status: status ?? -1, cpu, stderr: err });
    });
  });
}

const dsn = (port: number) => `h=127.0.0.1,P=${port},u=root`;

/** The key of a statement pt-table-sync printed (`WHERE \`id\`='5'` or `VALUES ('5', …`). */
function ptStatementKey(line: string): string | undefined {
  const m = /WHERE `id`='?(\d+)/.exec(line) ?? /VALUES \('?(\d+)/.exec(line);
  return m?.[1];
}

export async function ptTableSyncPrint(sourcePort: number, targetPort: number): Promise<ToolRun> {
  const out = path.join(SCRATCH, 'pt-table-sync.out');
  const r = await runTimed(
    `pt-table-sync --print --tables ${TABLE} ${dsn(sourcePort)} ${dsn(targetPort)} > ${out}`,
  );
  // Exit status 0: nothing to change; 2: statements printed; anything else is a failure.
  if (r.status !== 0 && r.status !== 2)
    throw new Error(`pt-table-sync --print exited with ${r.status}: ${r.stderr.trim()}`);
  const statements = fs
    .readFileSync(out, 'utf8')
    .split('\n')
    .filter((l) => /^(INSERT|UPDATE|DELETE|REPLACE)/.test(l));
  fs.rmSync(out, { force: true });
  return {
    seconds: r.seconds,
    toolCpuSeconds: r.cpu,
    keys: uniqueKeys(statements.map(ptStatementKey)),
    lines: statements.length,
  };
}

export async function dumpAndDiff(sourcePort: number, targetPort: number): Promise<ToolRun> {
  const [schema, table] = TABLE.split('.') as [string, string];
  const a = path.join(SCRATCH, 'source.sql');
  const b = path.join(SCRATCH, 'target.sql');
  const d = path.join(SCRATCH, 'dump.diff');
  const dump = (port: number, file: string) =>
    `mariadb-dump -h127.0.0.1 -P${port} -uroot --single-transaction --quick --order-by-primary --skip-extended-insert --compact --no-create-info ${schema} ${table} > ${file}`;
  const r = await runTimed(`${dump(sourcePort, a)} &\n${dump(targetPort, b)} &\nwait\ndiff ${a} ${b} > ${d}`);
  // diff: 0 same, 1 different, 2 trouble.
  if (r.status !== 0 && r.status !== 1)
    throw new Error(`dump-and-diff exited with ${r.status}: ${r.stderr.trim()}`);
  const changed = fs
    .readFileSync(d, 'utf8')
    .split('\n')
    .filter((l) => /^[<>]/.test(l));
  for (const f of [a, b, d]) fs.rmSync(f, { force: true });
  return {
    seconds: r.seconds,
    toolCpuSeconds: r.cpu,
    keys: uniqueKeys(changed.map((l) => /VALUES \((\d+)/.exec(l)?.[1])),
    lines: changed.length,
  };
}

function uniqueKeys(keys: (string | undefined)[]): string[] {
  return [...new Set(keys.filter((k): k is string => k !== undefined))].sort(byNumber);
}
