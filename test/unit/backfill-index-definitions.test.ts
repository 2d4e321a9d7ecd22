import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  addIndexesSql,
  dropIndexesSql,
  secondaryIndexesOf,
} from '../../src/connectors/mysql/backfill/index-definitions';

// SHOW CREATE TABLE as MariaDB 10.11 prints it for a table with one of every kind of index.
const EVERY_KIND = `CREATE TABLE \`t\` (
  \`id\` int(11) NOT NULL,
  \`we\`\`ird\` varchar(100) DEFAULT NULL,
  \`b\` int(11) DEFAULT NULL,
  \`c\` datetime(3) DEFAULT NULL,
  \`j\` text DEFAULT NULL,
  \`u\` int(11) DEFAULT NULL,
  \`g\` geometry NOT NULL,
  PRIMARY KEY (\`id\`),
  UNIQUE KEY \`uk\` (\`u\`),
  KEY \`by_we\`\`ird\` (\`we\`\`ird\`(10),\`b\` DESC) COMMENT 'x, y',
  KEY \`k2\` (\`b\`) IGNORED,
  SPATIAL KEY \`sp\` (\`g\`),
  KEY \`k3\` (\`c\`,\`b\`) USING BTREE,
  FULLTEXT KEY \`ft\` (\`j\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci`;

test('only plain KEY lines qualify, each with its full server definition (prefix, DESC, comment, IGNORED, USING)', () => {
  const { plain, hasForeignKeys } = secondaryIndexesOf(EVERY_KIND);
  assert.equal(hasForeignKeys, false);
  assert.deepEqual(plain, [
    { name: 'by_we`ird', definition: "KEY `by_we``ird` (`we``ird`(10),`b` DESC) COMMENT 'x, y'" },
    { name: 'k2', definition: 'KEY `k2` (`b`) IGNORED' },
    { name: 'k3', definition: 'KEY `k3` (`c`,`b`) USING BTREE' },
  ]);
});

test('a table with a FOREIGN KEY constraint is flagged (its indexes stay)', () => {
  const withFk = `CREATE TABLE \`line\` (
  \`id\` int(11) NOT NULL,
  \`order_id\` int(11) NOT NULL,
  PRIMARY KEY (\`id\`),
  KEY \`fk_order\` (\`order_id\`),
  CONSTRAINT \`fk_order\` FOREIGN KEY (\`order_id\`) REFERENCES \`orders\` (\`id\`)
) ENGINE=InnoDB`;
  const { plain, hasForeignKeys } = secondaryIndexesOf(withFk);
  assert.equal(hasForeignKeys, true);
  assert.deepEqual(
    plain.map((i) => i.name),
    ['fk_order'],
  );
});

test('a table with only primary and unique keys has nothing to defer', () => {
  const text =
    'CREATE TABLE `x` (\n  `id` int(11) NOT NULL,\n  `u` int(11),\n  PRIMARY KEY (`id`),\n  UNIQUE KEY `u` (`u`)\n) ENGINE=InnoDB';
  assert.deepEqual(secondaryIndexesOf(text).plain, []);
});

test('one ALTER TABLE drops them all and one adds them back, names quoted', () => {
  const table = { schema: 'sh`op', table: 'orders' };
  const { plain } = secondaryIndexesOf(EVERY_KIND);
  assert.equal(
    dropIndexesSql(
      table,
      plain.map((i) => i.name),
    ),
    'ALTER TABLE `sh``op`.`orders` DROP INDEX `by_we``ird`, DROP INDEX `k2`, DROP INDEX `k3`',
  );
  assert.equal(
    addIndexesSql(table, plain.slice(1)),
    'ALTER TABLE `sh``op`.`orders` ADD KEY `k2` (`b`) IGNORED, ADD KEY `k3` (`c`,`b`) USING BTREE',
  );
  assert.equal(dropIndexesSql(table, []), '');
  assert.equal(addIndexesSql(table, []), '');
});
