/**
 * Our replication commands plugged into mysql2's connection: mysql2 does connect, auth (incl.
 * caching_sha2_password), TLS and packet framing; these commands write COM_REGISTER_SLAVE and
 * COM_BINLOG_DUMP[_GTID] and receive the packets that follow.
 *
 * This uses mysql2 INTERNALS (the `Command` base class, `Packet`, `connection.addCommand()`,
 * `writePacket()`, `pause()`/`resume()`), which is why mysql2 is pinned to an exact version and
 * test/integration/binlog-replica-mysql2-hook.test.ts exercises exactly this hook: an upgrade that
 * changes it fails there, loudly.
 */
import path from 'node:path';
import type { Connection as Mysql2Connection } from 'mysql2';

/** The mysql2 version this hook was written and tested against. */
export const MYSQL2_HOOK_VERSION = '3.24.6';

/** mysql2's packet object as our commands see it (internal API). */
export interface Mysql2Packet {
  buffer: Buffer;
  start: number;
  offset: number;
  end: number;
  sequenceId: number;
}

/** The internal surface of a mysql2 connection that the replica relies on. */
export interface Mysql2Internals {
  addCommand(cmd: unknown): unknown;
  writePacket(packet: unknown): void;
  pause(): void;
  resume(): void;
  close(): void;
  stream: NodeJS.ReadableStream & { destroy(): void; destroyed: boolean };
  threadId: number | null;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

interface Mysql2CommandBase {
  onResult?: (err: Error | null) => void;
  execute(packet: Mysql2Packet | undefined, connection: Mysql2Internals): boolean;
}
type CommandCtor = new () => Mysql2CommandBase;
type PacketCtor = new (sequenceId: number, buffer: Buffer, start: number, end: number) => unknown;

/**
 * A module of mysql2's lib/ folder (e.g. `packets/index.js`), for our commands. mysql2's package
 * "exports" hides lib/, so the file is resolved next to its entry point.
 */
export function requireMysql2Internal<T>(relativePath: string): T {
  return require(path.join(path.dirname(require.resolve('mysql2')), 'lib', relativePath)) as T;
}

/** The installed mysql2 version (for errors about changed internals). */
export function mysql2Version(): string {
  return (require('mysql2/package.json') as { version: string }).version;
}

function loadInternals(): { Command: CommandCtor; Packet: PacketCtor } {
  const version = mysql2Version();
  const Command = requireMysql2Internal<CommandCtor>('commands/command.js');
  const Packet = requireMysql2Internal<PacketCtor>('packets/packet.js');
  if (
    typeof Command !== 'function' ||
    typeof Packet !== 'function' ||
    typeof Command.prototype.execute !== 'function'
  ) {
    throw new Error(
      `mysql2 ${version}: its internal Command/Packet classes changed; the binlog replica hook was written ` +
        `for mysql2 ${MYSQL2_HOOK_VERSION} (see src/binlog/replica/mysql2-commands.ts)`,
    );
  }
  return { Command, Packet };
}

const { Command, Packet } = loadInternals();

/** mysql2's Command and Packet classes, for other commands of ours (src/connectors/mysql/: statement-pipeline.ts, raw-text-query.ts). */
export const mysql2Classes = { Command, Packet };
export type { CommandCtor, Mysql2CommandBase, PacketCtor };

/** Returns the connection's internal surface, checking that the methods we rely on exist. */
export function internalsOf(conn: Mysql2Connection): Mysql2Internals {
  const c = conn as unknown as Mysql2Internals;
  for (const m of ['addCommand', 'writePacket', 'pause', 'resume', 'close'] as const) {
    if (typeof c[m] !== 'function') {
      throw new Error(
        `mysql2 connection has no ${m}(): the internal API the binlog replica uses changed ` +
          `(written for mysql2 ${MYSQL2_HOOK_VERSION})`,
      );
    }
  }
  return c;
}

/** Wraps a command payload in a mysql2 packet (4 header bytes that writePacket fills in). */
function toPacket(payload: Buffer): unknown {
  const buf = Buffer.allocUnsafe(4 + payload.length);
  payload.copy(buf, 4);
  return new Packet(0, buf, 0, buf.length);
}

/** A command that sends one packet and expects one OK (or ERR) back: COM_REGISTER_SLAVE. */
class SimpleCommand extends Command {
  constructor(
    private readonly payload: Buffer,
    callback: (err: Error | null) => void,
  ) {
    super();
    // mysql2 calls onResult with an Error for ERR packets and for connection failures.
    this.onResult = callback;
  }

  start(_packet: Mysql2Packet | undefined, connection: Mysql2Internals): unknown {
    connection.writePacket(toPacket(this.payload));
    return SimpleCommand.prototype.response;
  }

  response(): null {
    this.onResult?.(null);
    return null;
  }
}

/** Sends a command packet and resolves on OK, rejects on ERR or connection loss. */
export function runSimpleCommand(conn: Mysql2Internals, payload: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    conn.addCommand(new SimpleCommand(payload, (err) => (err ? reject(err) : resolve())));
  });
}

/** Receives what a dump produces. Handlers must not throw (mysql2 would treat it as fatal). */
export interface DumpHandlers {
  /** One binlog event: header + body (+ checksum); a view into mysql2's read buffer, not a copy. */
  onEvent(event: Buffer): void;
  /** EOF packet: only with BINLOG_DUMP_NON_BLOCK, at the end of the binlog. */
  onEnd(): void;
  /** An ERR packet from the server, or the connection failed. */
  onError(err: Error & { errno?: number; code?: string }): void;
}

/**
 * COM_BINLOG_DUMP / COM_BINLOG_DUMP_GTID: after the command packet, the server sends one packet per
 * event (0x00 then the event), an EOF (0xfe) in non-blocking mode, or an ERR (0xff). The command
 * stays current on the connection for as long as the stream lives.
 */
class BinlogDumpCommand extends Command {
  constructor(
    private readonly payload: Buffer,
    private readonly handlers: DumpHandlers,
  ) {
    super();
    this.onResult = (err) => {
      if (err) handlers.onError(err);
    };
  }

  start(_packet: Mysql2Packet | undefined, connection: Mysql2Internals): unknown {
    connection.writePacket(toPacket(this.payload));
    return BinlogDumpCommand.prototype.event;
  }

  event(packet: Mysql2Packet): unknown {
    const marker = packet.buffer[packet.offset];
    if (marker === 0xfe && packet.end - packet.offset < 9) {
      this.handlers.onEnd();
      return null;
    }
    // mysql2 reuses its packet object but not the buffer it points into, so a view is safe to keep.
    this.handlers.onEvent(packet.buffer.subarray(packet.offset + 1, packet.end));
    return BinlogDumpCommand.prototype.event;
  }
}

/** Starts a dump on `conn`; events flow to `handlers` until the connection ends. */
export function startDump(conn: Mysql2Internals, payload: Buffer, handlers: DumpHandlers): void {
  conn.addCommand(new BinlogDumpCommand(payload, handlers));
}
