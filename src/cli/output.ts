import { ApiError, ApiUnreachableError } from './api-client';

/** Exit codes of the API commands: scripts can tell "the API said no" from "no API". */
export const EXIT_API_ERROR = 1;
export const EXIT_UNREACHABLE = 3;

/**
 * Runs a CLI action: prints an API error's problem detail (and each field error) to stderr, or
 * the problem JSON to stdout with --json, and sets a non-zero exit code.
 */
export async function runCommand(json: boolean | undefined, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof ApiError) {
      if (json) process.stdout.write(`${JSON.stringify(err.problem, null, 2)}\n`);
      process.stderr.write(`otterflow: ${err.problem.title} (${err.status}): ${err.problem.detail}\n`);
      for (const e of err.problem.errors ?? [])
        process.stderr.write(`  ${e.path || '(body)'}: ${e.message}\n`);
      process.exitCode = EXIT_API_ERROR;
      return;
    }
    if (err instanceof ApiUnreachableError) {
      process.stderr.write(`otterflow: ${err.message}\n`);
      process.exitCode = EXIT_UNREACHABLE;
      return;
    }
    throw err;
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Left-aligned columns for lists. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) {
    r.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, c.length);
    });
  }
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  '))
    .join('\n');
}
