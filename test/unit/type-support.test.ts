import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  missingOnTarget,
  type ServerFlavour,
  unsupportedColumns,
} from '../../src/connectors/mysql/type-support';
import { parsePipelineConfig } from '../../src/pipeline/config';
import { compileMapper } from '../../src/pipeline/mapping/mapper';

const mysql9: ServerFlavour = { flavor: 'mysql', version: [9, 7, 4] };
const mariadb1011: ServerFlavour = { flavor: 'mariadb', version: [10, 11, 6] };
const mariadb118: ServerFlavour = { flavor: 'mariadb', version: [11, 8, 2] };

test('which flavour lacks which type', () => {
  assert.match(missingOnTarget('uuid', mysql9) ?? '', /MySQL has no UUID type/);
  assert.match(missingOnTarget('inet6', mysql9) ?? '', /INET6/);
  assert.equal(missingOnTarget('uuid', mariadb1011), undefined);
  assert.match(missingOnTarget('vector', mariadb1011) ?? '', /MariaDB 10\.11\.6 has no VECTOR/);
  assert.equal(missingOnTarget('vector', mariadb118), undefined);
  assert.equal(missingOnTarget('vector', mysql9), undefined);
  assert.equal(missingOnTarget('int', mysql9), undefined);
});

test('only mapped columns that travel are refused, each named with the way out', () => {
  const config = parsePipelineConfig({
    name: 'p',
    source: 's',
    target: 't',
    mappings: [
      { source: { schema: 'shop', table: 'a' } },
      { source: { schema: 'shop', table: 'b' }, columns: { exclude: ['U'] } },
      { source: { schema: 'shop', table: 'c' }, columns: { include: ['id'] } },
    ],
  });
  const mapper = compileMapper(config, new Map());
  const col = (table: string, column: string) => ({ schema: 'shop', table, column, dataType: 'uuid' });
  const problems = unsupportedColumns(
    [col('a', 'u'), col('b', 'u'), col('c', 'u'), col('unmapped', 'u')],
    mysql9,
    mapper,
    config,
  );
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /^column shop\.a\.u is UUID on the source .*\(mappings\[0\]\.columns\.exclude/);
});
