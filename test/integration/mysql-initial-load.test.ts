import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type mysql from 'mysql2/promise';
import { type BackfillStatus, backfillWorkflowId, initialLoadId } from '../../src/backfill/contract';
import { catalogFile, DatasourceCatalog } from '../../src/config/datasources';
import { ChunkCopier } from '../../src/connectors/mysql/backfill/copy';
import { parsePipelineConfig } from '../../src/pipeline/config';
import { compileMapper } from '../../src/pipeline/mapping/mapper';
import { stopUpdate } from '../../src/workflows/pipeline-contract';
import { everyTypeTableFor } from '../helpers/every-type-table';
import { type PrivateMysql, startPrivateMysql } from '../helpers/mysql-servers';
import { samePipelineConfig, startPipeline, waitForExactTables } from '../helpers/pipeline';
import { scratchDir } from '../helpers/processes';
import { connectTo, mysqlSkipReason, testStack, uniqueName, withWorker } from '../helpers/stack';

// Initial load (loadExistingData) into MySQL 9: with local_infile ON chunks go in with LOAD DATA
// LOCAL; with it OFF (MySQL's default) the copier knows before the first chunk, says so, and writes
// upserts; either way every value of the every-type table arrives exactly.
const skip = mysqlSkipReason();

describe('initial load into MySQL 9', { skip }, () => {
  let target: PrivateMysql;
  before(async () => {
    target = await startPrivateMysql('load-target', 2);
  });
  after(async () => {
    await target?.stop();
  });

  test('local_infile OFF is detected before the first chunk, with what to change', async () => {
    const conn = await target.connect();
    try {
      await conn.query('SET GLOBAL local_infile = OFF');
      const config = parsePipelineConfig({
        name: 'p',
        source: 's',
        target: 't',
        mappings: [{ source: { schema: 'x', table: 'y' } }],
      });
      const copier = new ChunkCopier(conn, conn, compileMapper(config), { mappings: config.mappings });
      await copier.prepare();
      assert.match(
        copier.loadDataOff ?? '',
        /local_infile is OFF on the target: .*SET PERSIST local_infile = ON/,
      );
      await conn.query('SET GLOBAL local_infile = ON');
      const withLoad = new ChunkCopier(conn, conn, compileMapper(config), { mappings: config.mappings });
      await withLoad.prepare();
      assert.equal(withLoad.loadDataOff, undefined);
    } finally {
      await conn.end();
    }
  });

  for (const localInfile of ['ON', 'OFF'] as const) {
    test(`MySQL 9 → MySQL 9 initial load of every type with local_infile ${localInfile}, then CDC`, async (t) => {
      const db = uniqueName('myload');
      const source = await connectTo('mysql-source');
      const tgt = await target.connect();
      t.after(async () => {
        await source.query(`DROP DATABASE IF EXISTS \`${db}\``).catch(() => {});
        await tgt.query(`DROP DATABASE IF EXISTS \`${db}\``).catch(() => {});
        await tgt.query('SET GLOBAL local_infile = ON').catch(() => {});
        await source.end();
        await tgt.end();
      });
      await tgt.query(`SET GLOBAL local_infile = ${localInfile}`);
      const table = everyTypeTableFor('mysql', 'mysql');
      for (const c of [source, tgt] as mysql.Connection[]) {
        await c.query(`CREATE DATABASE \`${db}\``);
        await c.query(`USE \`${db}\``);
        await c.query(table.ddl('mysql'));
      }
      await source.query(`SET SESSION sql_mode = ''`);
      for (const [id, values] of Object.entries(table.rows))
        await source.query(table.insertSql(Number(id), values));

      const home = scratchDir('homes', uniqueName('mysql-load'));
      const catalog = new DatasourceCatalog(catalogFile(home));
      const s = testStack();
      catalog.put({ name: 'msrc', kind: 'mysql', host: s.host, port: s.mysqlSourcePort, user: 'root' });
      catalog.put({ name: 'mtgt', kind: 'mysql', host: '127.0.0.1', port: target.port, user: 'root' });
      const config = await samePipelineConfig(source, db, {
        source: 'msrc',
        target: 'mtgt',
        options: { loadExistingData: true },
      });
      await withWorker(
        async ({ client, taskQueue }) => {
          const handle = await startPipeline(client, taskQueue, config);
          await waitForExactTables(source, tgt, db, 'all_types', handle);
          const child = client.workflow.getHandle(backfillWorkflowId(initialLoadId(config.name as string)));
          const loaded: BackfillStatus = await child.result();
          assert.equal(loaded.state, 'done', JSON.stringify(loaded));
          assert.equal(loaded.rowsCopied, 5);
          await source.query(table.updateSql(1, table.rows[2]!));
          await waitForExactTables(source, tgt, db, 'all_types', handle);
          await handle.executeUpdate(stopUpdate);
        },
        { home },
      );
    });
  }
});
