/**
 * Typed failures of a live binlog stream. Every way a stream can end other than `close()` surfaces as
 * a BinlogStreamError with a `kind` a caller can switch on (reconnect, re-snapshot, alert) and a
 * message an operator can act on.
 */

export type BinlogStreamErrorKind =
  /** The requested file/position or GTID is no longer in the server's binlogs (purged). */
  | 'position-purged'
  /** The requested position is not an event start, beyond the end of the file, or otherwise refused. */
  | 'invalid-position'
  /** No event and no heartbeat arrived for several heartbeat periods. */
  | 'stalled'
  /** The server or the network closed the connection (KILL, shutdown, reset). */
  | 'connection-lost'
  /** The server sent an error packet during the dump (other than the cases above). */
  | 'server-error'
  /** Registering as a replica or setting up the dump was refused. */
  | 'setup-failed'
  /** An event could not be decoded or failed its checksum. */
  | 'decode-failed';

export class BinlogStreamError extends Error {
  override readonly name = 'BinlogStreamError';
  /** MySQL error number when the server sent one (e.g. 1236). */
  readonly errno: number | undefined;

  constructor(
    readonly kind: BinlogStreamErrorKind,
    message: string,
    opts: { errno?: number; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.errno = opts.errno;
  }
}

/** ER_MASTER_FATAL_ERROR_READING_BINLOG: the server gave up sending the binlog. */
export const ER_MASTER_FATAL_ERROR_READING_BINLOG = 1236;
/** ER_CONNECTION_KILLED (MariaDB) / ER_QUERY_INTERRUPTED-style kill codes. */
const KILL_ERRNOS = new Set([1927, 1317, 1053, 3169]);

const PURGED_PATTERNS = [
  /could not find first log file name/i,
  /could not find gtid state requested by slave in any binlog files/i,
  /master has purged binary logs containing gtids/i,
  /source has purged binary logs containing gtids/i,
  /purged (required )?binary logs/i,
  /error: connecting slave requested to start from gtid .* which is not in the master's binlog/i,
];

/**
 * Turns a server error packet received during the dump into a typed error. `where` describes the
 * requested start, so the message says what was asked for.
 */
export function classifyDumpError(
  err: { errno?: number; message: string; code?: string },
  where: string,
): BinlogStreamError {
  const msg = err.message;
  if (err.errno === ER_MASTER_FATAL_ERROR_READING_BINLOG) {
    if (PURGED_PATTERNS.some((re) => re.test(msg))) {
      return new BinlogStreamError(
        'position-purged',
        `The server no longer has the binlog needed to stream from ${where}: it was purged ` +
          `(server said: "${msg}"). Events between that position and the oldest binlog still on the ` +
          'server are gone, so resuming is impossible: take a new snapshot of the data and start ' +
          'from the position captured with it, or start from a newer position (SHOW BINARY LOGS lists ' +
          'what is left). To avoid this, keep binlogs longer (expire_logs_days / binlog_expire_logs_seconds).',
        { errno: err.errno, cause: err },
      );
    }
    return new BinlogStreamError(
      'invalid-position',
      `The server refused to stream from ${where}: "${msg}". Check that the file exists and that ` +
        'the position is the start of an event (a position saved by Otterflow at a transaction boundary ' +
        'always is).',
      { errno: err.errno, cause: err },
    );
  }
  if (err.errno !== undefined && KILL_ERRNOS.has(err.errno)) {
    return new BinlogStreamError(
      'connection-lost',
      `The server ended the binlog dump connection: "${msg}" (errno ${err.errno}; the connection was ` +
        'killed or the server is shutting down). Reconnect from the last committed position.',
      { errno: err.errno, cause: err },
    );
  }
  return new BinlogStreamError('server-error', `The server stopped the binlog dump from ${where}: "${msg}"`, {
    errno: err.errno,
    cause: err,
  });
}
