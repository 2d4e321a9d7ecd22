/**
 * A live binlog stream from a MySQL or MariaDB source, read as a replica would: connect (mysql2),
 * negotiate checksums and heartbeats, register with a server id, dump from a file/position or a
 * GTID state, and hand decoded events to an async iterator with a bounded queue.
 *
 *   const stream = await openBinlogStream({ host, port, user, password, serverId: 4242, start });
 *   for await (const ev of stream) { …; if (ev.commit) save(ev.commit); }
 *
 * Failures (purged position, stalled stream, killed connection, server errors) end the iteration
 * with a BinlogStreamError; the stream never hangs silently.
 */

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { ConnectionOptions, SslOptions } from 'mysql2';
import mysql from 'mysql2/promise';
import { BinlogDecoder } from '../decoder';
import { EVENT_HEADER_LENGTH, type EventHeader, readEventHeader } from '../event-header';
import { EventType } from '../event-types';
import type { BinlogEvent } from '../events';
import type { BinlogPosition } from '../types';
import { BinlogStreamError, classifyDumpError } from './errors';
import { BoundedEventQueue, type QueueStats } from './event-queue';
import { encodeGtidSetSidBlock } from './gtid';
import { internalsOf, type Mysql2Internals, runSimpleCommand, startDump } from './mysql2-commands';
import { BinlogDumpFlag, binlogDumpGtidPayload, binlogDumpPayload, registerReplicaPayload } from './packets';
import { PositionTracker, type StartPosition } from './position-tracker';
import { mariaDbGtidAt, readServerInfo, type ServerInfo, versionAtLeast } from './server-state';

export interface BinlogStreamOptions {
  host: string;
  port: number;
  user: string;
  password?: string;
  /** TLS options passed to mysql2 (a profile name or SslOptions). */
  ssl?: string | SslOptions;
  /**
   * The MySQL protocol's compression (zlib, CLIENT_COMPRESS) on the dump connection: row events
   * compress well, so a source across a WAN sends several times fewer bytes for some CPU.
   */
  compress?: boolean;
  /**
   * Our server id as a replica. Must differ from the source's @@server_id and from every other
   * replica of that source: the server drops the older of two dump connections with the same id.
   */
  serverId: number;
  /**
   * Where to start. `{ file, pos }` (with `gtid` when known, so positions carry GTIDs) dumps by
   * file/position; `{ gtid }` alone dumps by GTID (COM_BINLOG_DUMP_GTID on MySQL,
   * @slave_connect_state on MariaDB).
   */
  start: StartPosition;
  /** Ask the server for a heartbeat after this many idle seconds (default 10; 0 = none, no stall detection). */
  heartbeatSeconds?: number;
  /** Fail with kind 'stalled' after this many heartbeat periods without any packet (default 3). */
  stallAfterHeartbeats?: number;
  /** Pause reading from the socket when this many events wait for the consumer (default 1000). */
  highWaterEvents?: number;
  /** …or when the waiting events hold this many bytes (default 32 MiB). */
  highWaterBytes?: number;
  /** MariaDB: also receive ANNOTATE_ROWS events (the SQL behind row events). Default false. */
  annotateRows?: boolean;
  /** MariaDB GTID starts: @slave_gtid_strict_mode (default true: refuse out-of-order GTIDs). */
  gtidStrictMode?: boolean;
  /**
   * Seconds the server waits on a blocked write to us before dropping the connection
   * (session net_write_timeout). A paused consumer blocks the server's writes. Default 600.
   */
  serverWriteTimeoutSeconds?: number;
  connectTimeoutMs?: number;
  /** Decoder to use (e.g. one with a schema resolver); default: a new BinlogDecoder. */
  decoder?: BinlogDecoder;
  /** Name shown in SHOW SLAVE HOSTS (default: this machine's host name). */
  replicaHostname?: string;
}

/** One event of the stream. */
export interface StreamedEvent {
  /** The decoded event. */
  event: BinlogEvent;
  header: EventHeader;
  /** The raw event bytes (header, body, checksum). */
  raw: Buffer;
  /** Binlog file holding the event. */
  file: string | undefined;
  /** Offset of the event in its file; undefined for artificial events (the fake ROTATE at the start). */
  pos: number | undefined;
  /**
   * Set on the event that ends a transaction (XID, COMMIT, a DDL, a ROTATE between transactions):
   * once this event is processed, a new stream started from `commit` continues exactly after it.
   */
  commit: BinlogPosition | undefined;
}

export interface BinlogStreamStats {
  events: number;
  heartbeats: number;
  bytes: number;
  queue: QueueStats;
  /** True while reading from the socket is paused because the consumer is behind. */
  paused: boolean;
}

/** What a stream was opened as, for messages and for the caller. */
export interface BinlogStreamInfo {
  server: ServerInfo;
  /** The dump connection's thread id on the server (for KILL, SHOW PROCESSLIST). */
  connectionId: number;
  checksum: boolean;
  mode: 'position' | 'gtid';
  /** The server's word (session status Compression) that the connection is compressed. */
  compressed: boolean;
}

interface Queued {
  raw: Buffer;
  header: EventHeader;
  file: string | undefined;
  pos: number | undefined;
  commit: BinlogPosition | undefined;
}

/**
 * An open binlog stream. Iterate it once with `for await`; call `close()` to stop (also done when
 * the loop exits early). Errors end the iteration with a BinlogStreamError.
 */
export class BinlogStream implements AsyncIterable<StreamedEvent> {
  private readonly queue: BoundedEventQueue<Queued>;
  private closed = false;
  private failed: BinlogStreamError | undefined;
  private lastActivity = Date.now();
  private stallTimer: NodeJS.Timeout | undefined;
  private socketPaused = false;
  private events = 0;
  private heartbeats = 0;
  private bytes = 0;
  private consumedCommit: StartPosition;
  private firstPacket: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private readonly closedPromise: Promise<void>;

  /** @internal use openBinlogStream */
  constructor(
    private readonly conn: Mysql2Internals,
    readonly info: BinlogStreamInfo,
    private readonly tracker: PositionTracker,
    private readonly decoder: BinlogDecoder,
    private readonly where: string,
    private readonly opts: {
      highWaterEvents: number;
      highWaterBytes: number;
      stallMs: number;
      heartbeatMs: number;
    },
  ) {
    this.consumedCommit = tracker.resumePosition();
    this.queue = new BoundedEventQueue<Queued>(
      { highWaterEvents: opts.highWaterEvents, highWaterBytes: opts.highWaterBytes },
      {
        pause: () => {
          this.socketPaused = true;
          this.conn.pause();
        },
        resume: () => {
          this.socketPaused = false;
          // Time spent paused is the consumer's, not the server's: restart the stall clock.
          this.lastActivity = Date.now();
          this.conn.resume();
        },
      },
    );
    this.closedPromise = new Promise((resolve) => {
      if (conn.stream.destroyed) resolve();
      else conn.stream.once('close', () => resolve());
    });
  }

  /** @internal Sends the dump command and waits for the server's first packet (or its refusal). */
  async start(payload: Buffer, connectTimeoutMs: number): Promise<void> {
    const first = new Promise<void>((resolve, reject) => {
      this.firstPacket = { resolve, reject };
    });
    startDump(this.conn, payload, {
      onEvent: (ev) => this.onEvent(ev),
      // We never ask for NON_BLOCK, so an EOF means the server ended the dump (it does so when it
      // shuts down): not a normal end of the stream.
      onEnd: () =>
        this.fail(
          new BinlogStreamError(
            'connection-lost',
            `The server ended the binlog dump (thread ${this.info.connectionId}) with EOF; it is shutting down ` +
              'or the dump was stopped. Reconnect from the last committed position.',
          ),
        ),
      onError: (err) => this.onError(err),
    });
    const timeout = setTimeout(
      () =>
        this.fail(
          new BinlogStreamError(
            'setup-failed',
            `no answer to the binlog dump request for ${this.where} within ${connectTimeoutMs} ms`,
          ),
        ),
      connectTimeoutMs,
    );
    try {
      await first;
    } finally {
      clearTimeout(timeout);
    }
    if (this.opts.stallMs > 0) {
      this.stallTimer = setInterval(
        () => this.checkStall(),
        Math.max(50, Math.min(1000, this.opts.heartbeatMs / 2)),
      );
      this.stallTimer.unref();
    }
  }

  private onEvent(raw: Buffer): void {
    if (this.closed || this.failed) return;
    this.lastActivity = Date.now();
    if (this.firstPacket) {
      this.firstPacket.resolve();
      this.firstPacket = undefined;
    }
    if (raw.length < EVENT_HEADER_LENGTH) {
      this.fail(
        new BinlogStreamError(
          'decode-failed',
          `the server sent a ${raw.length}-byte event, shorter than an event header`,
        ),
      );
      return;
    }
    const header = readEventHeader(raw, 0);
    if (header.type === EventType.HEARTBEAT || header.type === EventType.HEARTBEAT_V2) {
      this.heartbeats++;
      return;
    }
    let seen: ReturnType<PositionTracker['observe']>;
    try {
      seen = this.tracker.observe(raw, header);
    } catch (err) {
      this.fail(
        new BinlogStreamError(
          'decode-failed',
          `could not read a ${header.type} event for position tracking: ${(err as Error).message}`,
          {
            cause: err,
          },
        ),
      );
      return;
    }
    this.events++;
    this.bytes += raw.length;
    this.queue.push({ raw, header, file: seen.file, pos: seen.pos, commit: seen.boundary }, raw.length);
  }

  private onError(err: Error & { errno?: number; code?: string }): void {
    if (this.closed) return;
    if (err.errno !== undefined && err.code !== 'PROTOCOL_CONNECTION_LOST') {
      this.fail(classifyDumpError({ errno: err.errno, message: err.message, code: err.code }, this.where));
      return;
    }
    this.fail(
      new BinlogStreamError(
        'connection-lost',
        `The binlog dump connection (server thread ${this.info.connectionId}) was closed: ${err.message}` +
          `${err.code ? ` [${err.code}]` : ''}. The connection was killed, the server stopped or the network failed; ` +
          'reconnect from the last committed position.',
        { cause: err },
      ),
    );
  }

  private checkStall(): void {
    if (this.closed || this.failed || this.socketPaused) return;
    const idle = Date.now() - this.lastActivity;
    if (idle > this.opts.stallMs) {
      this.fail(
        new BinlogStreamError(
          'stalled',
          `The binlog stream from ${this.info.server.flavor} server (thread ${this.info.connectionId}) stalled: no event ` +
            `and no heartbeat for ${(idle / 1000).toFixed(1)} s although heartbeats were requested every ` +
            `${this.opts.heartbeatMs / 1000} s. The network or the server is hung; reconnect from the last committed position.`,
        ),
      );
    }
  }

  private fail(err: BinlogStreamError): void {
    if (this.failed || this.closed) return;
    this.failed = err;
    if (this.firstPacket) {
      this.firstPacket.reject(err);
      this.firstPacket = undefined;
    }
    this.queue.fail(err);
    this.shutdown();
  }

  private shutdown(): void {
    if (this.stallTimer) clearInterval(this.stallTimer);
    this.stallTimer = undefined;
    // close() marks the connection as closing (no "connection lost" error); destroy drops the socket
    // at once, since the dump command never finishes and a polite QUIT would wait behind it.
    this.conn.close();
    this.conn.stream.destroy();
  }

  /** Stops the stream and closes the connection; a pending iteration ends normally. */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.queue.abort();
      if (!this.failed) this.shutdown();
    }
    await this.closedPromise;
  }

  /**
   * The resume point after the last transaction boundary handed to the consumer (the `commit` of
   * the last such event), or the start position before the first one.
   */
  committedPosition(): StartPosition {
    return { ...this.consumedCommit };
  }

  stats(): BinlogStreamStats {
    return {
      events: this.events,
      heartbeats: this.heartbeats,
      bytes: this.bytes,
      queue: this.queue.snapshot(),
      paused: this.socketPaused,
    };
  }

  /** The next event, or undefined at the end (close() or non-blocking EOF). Throws BinlogStreamError. */
  async next(): Promise<StreamedEvent | undefined> {
    const r = await this.queue.next();
    if (r.done) return undefined;
    const q = r.value;
    let event: BinlogEvent;
    try {
      event = this.decoder.decode(
        q.raw,
        q.pos !== undefined && q.file !== undefined ? { file: q.file, pos: q.pos } : undefined,
      );
    } catch (err) {
      const e = new BinlogStreamError(
        'decode-failed',
        `binlog event could not be decoded: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
      this.fail(e);
      this.queue.abort();
      throw e;
    }
    if (q.commit) this.consumedCommit = q.commit;
    return { event, header: q.header, raw: q.raw, file: q.file, pos: q.pos, commit: q.commit };
  }

  async *[Symbol.asyncIterator](): AsyncIterator<StreamedEvent> {
    try {
      for (;;) {
        const ev = await this.next();
        if (ev === undefined) return;
        yield ev;
      }
    } finally {
      await this.close();
    }
  }
}

async function sessionCompressed(sql: mysql.Connection): Promise<boolean> {
  const [rows] = await sql.query<mysql.RowDataPacket[]>("SHOW SESSION STATUS LIKE 'Compression'");
  return String(rows[0]?.Value ?? '').toUpperCase() === 'ON';
}

function describeStart(start: StartPosition): string {
  if ('file' in start && start.file)
    return `${start.file}:${start.pos}${start.gtid ? ` (GTID ${start.gtid})` : ''}`;
  return `GTID ${start.gtid}`;
}

/**
 * Opens a binlog stream. Resolves once the server accepted the dump and sent its first event;
 * rejects with a BinlogStreamError when it refused (purged position, bad server id, …).
 */
export async function openBinlogStream(options: BinlogStreamOptions): Promise<BinlogStream> {
  const heartbeatSeconds = options.heartbeatSeconds ?? 10;
  const connectTimeoutMs = options.connectTimeoutMs ?? 10000;
  const start = options.start;
  const byGtid = !('file' in start && start.file);
  const where = describeStart(start);
  if (byGtid && !start.gtid) throw new Error('openBinlogStream: start needs a file/position or a GTID state');

  const config: ConnectionOptions = {
    host: options.host,
    port: options.port,
    user: options.user,
    password: options.password,
    connectTimeout: connectTimeoutMs,
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    charset: 'utf8mb4_general_ci',
  };
  if (options.ssl !== undefined) config.ssl = options.ssl;
  if (options.compress) config.compress = true;
  const sql = await mysql.createConnection(config);
  // The promise wrapper's core connection is where the command hook lives.
  const core = internalsOf((sql as unknown as { connection: import('mysql2').Connection }).connection);
  let handedOver = false;
  try {
    const server = await readServerInfo(sql);
    if (options.serverId === server.serverId) {
      throw new BinlogStreamError(
        'setup-failed',
        `replica server id ${options.serverId} is the source's own @@server_id: choose another id (unique among the source and its replicas)`,
      );
    }
    const checksum = server.binlogChecksum === 'CRC32';
    const mysql8026 = server.flavor === 'mysql' && versionAtLeast(server.versionNumbers, [8, 0, 26]);
    const setup: string[] = [];
    // Declare that we understand the server's checksum, so events keep their CRC32 footer.
    setup.push(
      mysql8026
        ? 'SET @source_binlog_checksum = @@global.binlog_checksum'
        : 'SET @master_binlog_checksum = @@global.binlog_checksum',
    );
    if (heartbeatSeconds > 0) {
      const ns = BigInt(Math.round(heartbeatSeconds * 1e9));
      setup.push(`SET @${mysql8026 ? 'source' : 'master'}_heartbeat_period = ${ns}`);
    }
    setup.push(
      `SET SESSION net_write_timeout = ${Math.max(1, Math.round(options.serverWriteTimeoutSeconds ?? 600))}`,
    );

    let trackedStart: StartPosition = start;
    if (server.flavor === 'mariadb') {
      // Capability 4 (GTID): the server sends its own GTID/GTID_LIST events instead of
      // rewriting them into events an old MySQL replica would understand.
      setup.push('SET @mariadb_slave_capability = 4');
      if (byGtid) {
        setup.push(`SET @slave_connect_state = ${sql.escape(start.gtid ?? '')}`);
        setup.push(`SET @slave_gtid_strict_mode = ${options.gtidStrictMode === false ? 0 : 1}`);
        setup.push('SET @slave_gtid_ignore_duplicates = 0');
      } else if (!start.gtid) {
        // Know the GTID state at the start position, so every commit position carries a GTID.
        const gtid = await mariaDbGtidAt(
          sql,
          (start as BinlogPosition).file,
          (start as BinlogPosition).pos,
        ).catch(() => undefined);
        if (gtid !== undefined) trackedStart = { ...(start as BinlogPosition), gtid };
      }
    } else {
      setup.push(`SET @slave_uuid = '${randomUUID()}'`);
      if (mysql8026) setup.push(`SET @replica_uuid = '${randomUUID()}'`);
      if (byGtid && !server.gtidMode) {
        throw new BinlogStreamError(
          'setup-failed',
          `cannot stream from ${where}: the MySQL source has gtid_mode OFF`,
        );
      }
    }
    for (const stmt of setup) await sql.query(stmt);
    const compressed = options.compress ? await sessionCompressed(sql) : false;

    await runSimpleCommand(
      core,
      registerReplicaPayload({
        serverId: options.serverId,
        hostname: (options.replicaHostname ?? hostname()).slice(0, 60),
        user: '',
        password: '',
        port: 0,
      }),
    ).catch((err: Error & { errno?: number }) => {
      throw new BinlogStreamError(
        'setup-failed',
        `the server refused to register us as replica ${options.serverId}: ${err.message} ` +
          '(the user needs the REPLICATION SLAVE privilege, called REPLICATION REPLICA on newer servers)',
        { errno: err.errno, cause: err },
      );
    });

    let flags = 0;
    if (server.flavor === 'mariadb' && options.annotateRows) flags |= BinlogDumpFlag.SEND_ANNOTATE_ROWS;
    let payload: Buffer;
    if (byGtid && server.flavor === 'mysql') {
      payload = binlogDumpGtidPayload({
        serverId: options.serverId,
        sidBlock: encodeGtidSetSidBlock(start.gtid ?? ''),
        flags,
      });
    } else if (byGtid) {
      // MariaDB: the GTID start is in @slave_connect_state; file and position are ignored.
      payload = binlogDumpPayload({ serverId: options.serverId, file: '', pos: 4, flags });
    } else {
      const p = start as BinlogPosition;
      payload = binlogDumpPayload({ serverId: options.serverId, file: p.file, pos: p.pos, flags });
    }

    const connectionId = core.threadId ?? 0;
    const tracker = new PositionTracker(server.flavor, trackedStart, { checksum });
    const decoder = options.decoder ?? new BinlogDecoder({ checksumBeforeFormatDescription: checksum });
    const heartbeatMs = heartbeatSeconds * 1000;
    const stream = new BinlogStream(
      core,
      { server, connectionId, checksum, mode: byGtid ? 'gtid' : 'position', compressed },
      tracker,
      decoder,
      where,
      {
        highWaterEvents: options.highWaterEvents ?? 1000,
        highWaterBytes: options.highWaterBytes ?? 32 * 1024 * 1024,
        heartbeatMs,
        stallMs: heartbeatSeconds > 0 ? heartbeatMs * (options.stallAfterHeartbeats ?? 3) : 0,
      },
    );
    // mysql2 emits connection-level errors when no command is current; the stream reports them.
    core.on('error', () => {});
    handedOver = true;
    await stream.start(payload, connectTimeoutMs).catch(async (err) => {
      await stream.close();
      throw err;
    });
    return stream;
  } finally {
    if (!handedOver) {
      core.close();
      core.stream.destroy();
    }
  }
}
