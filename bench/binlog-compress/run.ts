/**
 * Bytes on the wire of a binlog stream with and without the protocol's compression
 * (`openBinlogStream({ compress })`, a datasource's `compress: true`): 20,000 order-like rows
 * inserted in 200-row statements, half of them updated (before + after images), streamed twice from
 * the same start. Counts the server's global Bytes_sent around each stream, so run it against a
 * server nothing else uses (default: the test stack's source, OTTERFLOW_TEST_SOURCE_PORT or 23306).
 * Prints one JSON line per mode.
 *   node --import tsx bench/binlog-compress/run.ts
 */
import { randomInt } from 'node:crypto';
import mysql from 'mysql2/promise';
import { openBinlogStream, readServerBinlogState } from '../../src/binlog/replica';

const port = Number(process.env.BENCH_SOURCE_PORT ?? process.env.OTTERFLOW_TEST_SOURCE_PORT ?? 23306);

async function bytesSent(c: mysql.Connection): Promise<number> {
  const [rows] = await c.query<mysql.RowDataPacket[]>("SHOW GLOBAL STATUS LIKE 'Bytes_sent'");
  return Number(rows[0]?.Value);
}

async function main(): Promise<void> {
  const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' });
  const db = `bench_compress_${randomInt(1e9)}`;
  await c.query(`CREATE DATABASE ${db}`);
  await c.query(`USE ${db}`);
  await c.query(
    'CREATE TABLE orders (id INT PRIMARY KEY, customer VARCHAR(64), status VARCHAR(16), amount DECIMAL(12,2), note VARCHAR(255), created DATETIME)',
  );
  try {
    const start = await readServerBinlogState(c);
    for (let b = 0; b < 100; b++) {
      const rows = Array.from({ length: 200 }, (_, i) => {
        const id = b * 200 + i;
        return [
          id,
          `customer-${id % 977}`,
          ['new', 'paid', 'shipped'][id % 3],
          (id * 7.31) % 10000,
          `note ${id}`,
        ];
      });
      await c.query('INSERT INTO orders VALUES ?', [rows.map((r) => [...r, new Date()])]);
      await c.query("UPDATE orders SET status = 'done' WHERE id BETWEEN ? AND ?", [b * 200, b * 200 + 99]);
    }
    const end = await readServerBinlogState(c);
    for (const compress of [false, true]) {
      const before = await bytesSent(c);
      const started = performance.now();
      const stream = await openBinlogStream({
        host: '127.0.0.1',
        port,
        user: 'root',
        serverId: randomInt(100_000, 2 ** 31),
        start,
        compress,
      });
      let events = 0;
      for await (const ev of stream) {
        events++;
        if (ev.commit && ev.commit.file === end.file && ev.commit.pos >= end.pos) break;
      }
      await stream.close();
      const ms = Math.round(performance.now() - started);
      const sent = (await bytesSent(c)) - before;
      console.log(
        JSON.stringify({ compress, compressed: stream.info.compressed, events, bytesSent: sent, ms }),
      );
    }
  } finally {
    await c.query(`DROP DATABASE ${db}`);
    await c.end();
  }
}

void main();
