import path from 'node:path';
import { Connection } from '@temporalio/client';
import {
  assertPortFree,
  isOurProcessAlive,
  isRecordedAlive,
  launchRecorded,
  type PidRecord,
  readPidRecord,
  sleep,
} from './processes';

export interface TemporalDevSpec {
  host: string;
  port: number;
  uiPort: number;
  dir: string;
  runDir: string;
  namespace: string;
}

const NAME = 'temporal';

/** Search attributes the pipeline workflows set, so the Web UI can filter by them. */
export const SEARCH_ATTRIBUTES: Record<string, 'Keyword' | 'Text' | 'Int'> = {
  OtterflowPipeline: 'Keyword',
  OtterflowStatus: 'Keyword',
  OtterflowKind: 'Keyword',
};

export function temporalArgs(spec: TemporalDevSpec): string[] {
  const args = [
    'server',
    'start-dev',
    '--db-filename',
    path.join(spec.dir, 'temporal.db'),
    '--ip',
    spec.host,
    '--port',
    String(spec.port),
    '--ui-port',
    String(spec.uiPort),
    '--log-level',
    'warn',
  ];
  if (spec.namespace !== 'default') args.push('--namespace', spec.namespace);
  for (const [key, type] of Object.entries(SEARCH_ATTRIBUTES))
    args.push('--search-attribute', `${key}=${type}`);
  return args;
}

export function temporalRecord(spec: TemporalDevSpec): PidRecord | undefined {
  return readPidRecord(spec.runDir, NAME);
}

export function isTemporalRunning(spec: TemporalDevSpec): boolean {
  return isRecordedAlive(spec.runDir, NAME);
}

export async function startTemporal(
  spec: TemporalDevSpec,
  binary: string,
): Promise<'started' | 'already running'> {
  if (isTemporalRunning(spec)) {
    await waitForTemporal(spec, 30000);
    return 'already running';
  }
  await assertPortFree(spec.host, spec.port, 'the Temporal dev server');
  await assertPortFree(spec.host, spec.uiPort, 'the Temporal Web UI');
  const rec = launchRecorded({
    runDir: spec.runDir,
    name: NAME,
    marker: path.join(spec.dir, 'temporal.db'),
    command: binary,
    args: temporalArgs(spec),
    logFile: path.join(spec.dir, 'temporal.log'),
  });
  await waitForTemporal(spec, 60000, rec);
  return 'started';
}

/** Waits until the frontend answers and the namespace exists. */
export async function waitForTemporal(
  spec: TemporalDevSpec,
  timeoutMs: number,
  rec?: PidRecord,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    if (rec && !isOurProcessAlive(rec)) {
      throw new Error(
        `the Temporal dev server exited during start-up; see ${path.join(spec.dir, 'temporal.log')}`,
      );
    }
    try {
      const conn = await Connection.connect({ address: `${spec.host}:${spec.port}`, connectTimeout: 1000 });
      try {
        await conn.workflowService.describeNamespace({ namespace: spec.namespace });
        return;
      } finally {
        await conn.close();
      }
    } catch (err) {
      lastError = (err as Error).message;
    }
    await sleep(300);
  }
  throw new Error(`the Temporal dev server on ${spec.host}:${spec.port} did not become ready: ${lastError}`);
}
