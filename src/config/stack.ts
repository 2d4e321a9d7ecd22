import path from 'node:path';
import { z } from 'zod';

/**
 * Where and on which ports the embedded local stack runs. Every value can be overridden by an
 * environment variable so that two stacks (a developer's and a test's) can run side by side.
 */
export interface StackSettings {
  /** Project-local state folder: data directories, pid files, logs. */
  home: string;
  host: string;
  sourcePort: number;
  targetPort: number;
  sourceServerId: number;
  targetServerId: number;
  /** MySQL 9 source and target (started by `dev up --with-mysql`). */
  mysqlSourcePort: number;
  mysqlTargetPort: number;
  mysqlSourceServerId: number;
  mysqlTargetServerId: number;
  temporalPort: number;
  temporalUiPort: number;
  apiPort: number;
  metricsPort: number;
  namespace: string;
  taskQueue: string;
  /** Overrides host:temporalPort for a remote Temporal cluster (production). */
  temporalAddress?: string;
}

const port = z.coerce.number().int().min(1).max(65535);

const envSchema = z.object({
  OTTERFLOW_HOME: z.string().min(1).optional(),
  OTTERFLOW_HOST: z.string().min(1).default('127.0.0.1'),
  OTTERFLOW_SOURCE_PORT: port.default(13306),
  OTTERFLOW_TARGET_PORT: port.default(13307),
  OTTERFLOW_SOURCE_SERVER_ID: z.coerce.number().int().min(1).max(4294967295).default(101),
  OTTERFLOW_TARGET_SERVER_ID: z.coerce.number().int().min(1).max(4294967295).default(102),
  OTTERFLOW_MYSQL_SOURCE_PORT: port.default(13316),
  OTTERFLOW_MYSQL_TARGET_PORT: port.default(13317),
  OTTERFLOW_MYSQL_SOURCE_SERVER_ID: z.coerce.number().int().min(1).max(4294967295).default(111),
  OTTERFLOW_MYSQL_TARGET_SERVER_ID: z.coerce.number().int().min(1).max(4294967295).default(112),
  OTTERFLOW_TEMPORAL_PORT: port.default(17233),
  OTTERFLOW_TEMPORAL_UI_PORT: port.default(18233),
  OTTERFLOW_API_PORT: port.default(18080),
  OTTERFLOW_METRICS_PORT: port.default(19464),
  OTTERFLOW_NAMESPACE: z.string().min(1).default('default'),
  OTTERFLOW_TASK_QUEUE: z.string().min(1).default('otterflow'),
  OTTERFLOW_TEMPORAL_ADDRESS: z.string().min(1).optional(),
});

/** The project root: two levels above this file, in src/ and in dist/ alike. */
export const projectRoot = path.resolve(__dirname, '..', '..');

/** Reads stack settings from the environment; throws a readable error naming the bad variable. */
export function stackSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): StackSettings {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid environment:\n  ${lines.join('\n  ')}`);
  }
  const e = parsed.data;
  return {
    home: path.resolve(e.OTTERFLOW_HOME ?? path.join(projectRoot, '.otterflow')),
    host: e.OTTERFLOW_HOST,
    sourcePort: e.OTTERFLOW_SOURCE_PORT,
    targetPort: e.OTTERFLOW_TARGET_PORT,
    sourceServerId: e.OTTERFLOW_SOURCE_SERVER_ID,
    targetServerId: e.OTTERFLOW_TARGET_SERVER_ID,
    mysqlSourcePort: e.OTTERFLOW_MYSQL_SOURCE_PORT,
    mysqlTargetPort: e.OTTERFLOW_MYSQL_TARGET_PORT,
    mysqlSourceServerId: e.OTTERFLOW_MYSQL_SOURCE_SERVER_ID,
    mysqlTargetServerId: e.OTTERFLOW_MYSQL_TARGET_SERVER_ID,
    temporalPort: e.OTTERFLOW_TEMPORAL_PORT,
    temporalUiPort: e.OTTERFLOW_TEMPORAL_UI_PORT,
    apiPort: e.OTTERFLOW_API_PORT,
    metricsPort: e.OTTERFLOW_METRICS_PORT,
    namespace: e.OTTERFLOW_NAMESPACE,
    taskQueue: e.OTTERFLOW_TASK_QUEUE,
    ...(e.OTTERFLOW_TEMPORAL_ADDRESS ? { temporalAddress: e.OTTERFLOW_TEMPORAL_ADDRESS } : {}),
  };
}

export function temporalAddress(s: StackSettings): string {
  return s.temporalAddress ?? `${s.host}:${s.temporalPort}`;
}
