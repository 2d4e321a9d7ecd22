import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkSourcePrerequisites, type SourceSettings } from '../../src/connectors/mysql/prerequisites';

const good: SourceSettings = {
  version: '10.11.19-MariaDB',
  flavor: 'mariadb',
  serverId: 7,
  logBin: true,
  binlogFormat: 'ROW',
  binlogRowImage: 'FULL',
  binlogRowMetadata: 'FULL',
  gtidMode: null,
  grants: ['GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `cdc`@`%`'],
};

test('a correctly configured source passes every check', () => {
  const checks = checkSourcePrerequisites(good);
  assert.deepEqual(
    checks.filter((c) => !c.ok).map((c) => c.name),
    [],
  );
});

test('a source with STATEMENT binlog is told exactly which setting to change', () => {
  const checks = checkSourcePrerequisites({ ...good, binlogFormat: 'STATEMENT' });
  const failed = checks.filter((c) => !c.ok);
  assert.equal(failed.length, 1);
  assert.equal(failed[0]?.name, 'binlog_format');
  assert.equal(failed[0]?.actual, 'STATEMENT');
  assert.match(failed[0]?.fix ?? '', /binlog_format = 'ROW'/);
});

test('missing replication privileges name the GRANT to run', () => {
  const checks = checkSourcePrerequisites({ ...good, grants: ['GRANT SELECT ON *.* TO `cdc`@`%`'] });
  const fixes = checks.filter((c) => !c.ok).map((c) => c.fix);
  assert.deepEqual(fixes, [
    'GRANT REPLICATION SLAVE ON *.* TO <user>',
    'GRANT BINLOG MONITOR ON *.* TO <user>',
  ]);
});

test('log_bin off and MINIMAL metadata both fail', () => {
  const failed = checkSourcePrerequisites({ ...good, logBin: false, binlogRowMetadata: 'MINIMAL' })
    .filter((c) => !c.ok)
    .map((c) => c.name);
  assert.deepEqual(failed, ['log_bin', 'binlog_row_metadata']);
});
