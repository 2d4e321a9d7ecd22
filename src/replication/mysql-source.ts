import type mysql from 'mysql2/promise';
import { BinlogDecoder } from '../binlog/decoder';
import type { BinlogEvent } from '../binlog/events';
import { type BinlogStream, openBinlogStream } from '../binlog/replica/stream';
import { InformationSchemaResolver } from '../binlog/schema-resolver';
import type { BinlogPosition } from '../binlog/types';
import type { ResolvedDatasource } from '../config/datasources';
import { mysqlTlsOptions } from '../connectors/mysql/connection';
import { openMysqlSource } from '../connectors/mysql/source';
import { SYSTEM_SCHEMA } from '../connectors/target';
import type { StartPosition } from '../pipeline/config';
import { ensureHeartbeatTable, HEARTBEAT_TABLE, HeartbeatWriter } from './heartbeat';
import { initialPosition, replicaServerId } from './positions';
import type { SourceEvents } from './read-loop';

/**
 * The MySQL/MariaDB SOURCE of a replicate run: one ordinary connection (table definitions for the
 * decoder, the lag heartbeat, the first position) and the binlog dump stream.
 */
export class MysqlSource {
  private heartbeat: HeartbeatWriter | undefined;
  private stream: BinlogStream | undefined;

  private constructor(
    private readonly ds: ResolvedDatasource,
    private readonly pipeline: string,
    readonly connection: mysql.Connection,
  ) {}

  static async open(ds: ResolvedDatasource, pipeline: string): Promise<MysqlSource> {
    return new MysqlSource(ds, pipeline, await openMysqlSource(ds));
  }

  /** Where the pipeline starts on its very first run. */
  initialPosition(start: StartPosition): Promise<BinlogPosition> {
    return initialPosition(this.connection, start);
  }

  /** Writes the lag heartbeat row on the source (needs write access to the `otterflow` schema there). */
  async startHeartbeat(warn: (message: string) => void): Promise<void> {
    try {
      await ensureHeartbeatTable(this.connection);
      this.heartbeat = new HeartbeatWriter(this.connection, this.pipeline);
      this.heartbeat.start();
    } catch (err) {
      warn(
        `lag heartbeat disabled: cannot write ${SYSTEM_SCHEMA}.${HEARTBEAT_TABLE} on the source (${(err as Error).message})`,
      );
    }
  }

  /** Opens the binlog stream at `position` and the decoder's schema resolution for it. */
  async events(
    position: BinlogPosition,
    heartbeatSeconds: number,
  ): Promise<{ events: SourceEvents; resolveSchema: (event: BinlogEvent) => Promise<void> }> {
    // Table maps completed from the source's information_schema over our own source connection (the
    // dump connection is busy): names under binlog_row_metadata=MINIMAL, UUID/INET.
    const decoder = new BinlogDecoder({ schemaResolver: new InformationSchemaResolver(this.connection) });
    const stream = await openBinlogStream({
      decoder,
      host: this.ds.host,
      port: this.ds.port,
      user: this.ds.user,
      password: this.ds.password,
      ssl: mysqlTlsOptions(this.ds),
      serverId: replicaServerId(this.pipeline),
      start: position.file ? position : { gtid: position.gtid ?? '' },
      heartbeatSeconds,
    });
    this.stream = stream;
    const events: SourceEvents = {
      [Symbol.asyncIterator]: () => stream[Symbol.asyncIterator](),
      backlog: () => stream.stats().queue.length,
    };
    return { events, resolveSchema: (event) => decoder.resolveSchema(event) };
  }

  async close(): Promise<void> {
    this.heartbeat?.stop();
    await this.stream?.close().catch(() => {});
    await this.connection.end().catch(() => {});
  }
}
