/**
 * The live replica connection: stream a MySQL/MariaDB binlog as a replica (see
 * docs/replica-protocol.md). Import from here, not from the files behind it.
 */
export { BinlogStreamError, type BinlogStreamErrorKind } from './errors';
export type { QueueStats } from './event-queue';
export { MYSQL2_HOOK_VERSION } from './mysql2-commands';
export type { ServerFlavor, StartPosition } from './position-tracker';
export {
  type BinaryLogFile,
  listBinaryLogs,
  readServerBinlogState,
  readServerInfo,
  type ServerInfo,
  type SqlRunner,
} from './server-state';
export {
  BinlogStream,
  type BinlogStreamInfo,
  type BinlogStreamOptions,
  type BinlogStreamStats,
  openBinlogStream,
  type StreamedEvent,
} from './stream';
