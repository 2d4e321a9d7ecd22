import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkOracleTargetPrerequisites,
  type OracleTargetState,
} from '../../src/connectors/oracle/prerequisites';
import { OracleTargetConnector } from '../../src/connectors/oracle/target-session';
import { RecordingOracleDatabase } from '../helpers/recording-oracle';

const ready: OracleTargetState = {
  version: '23.0.0.0.0',
  user: 'REPL',
  privileges: ['CREATE SESSION', 'CREATE TABLE'],
  defaultTablespace: 'USERS',
  quotaMaxBytes: -1,
  quotaUsedBytes: 0,
  missingSystemTables: ['OTTERFLOW_CHECKPOINTS', 'OTTERFLOW_BACKFILLS'],
};

test('Oracle target prerequisites: privileges and quota, each failure with the statement that fixes it', () => {
  assert.ok(checkOracleTargetPrerequisites(ready).every((c) => c.ok && c.fix === undefined));
  const bad = checkOracleTargetPrerequisites({
    ...ready,
    privileges: ['CREATE SESSION'],
    quotaMaxBytes: undefined,
  });
  assert.deepEqual(
    bad.filter((c) => !c.ok).map((c) => [c.name, c.actual, c.fix]),
    [
      [
        'privilege CREATE TABLE',
        'missing, and OTTERFLOW_CHECKPOINTS, OTTERFLOW_BACKFILLS not created yet',
        'GRANT CREATE TABLE TO "REPL" (the checkpoint table OTTERFLOW_CHECKPOINTS is created on the first run, ' +
          "the backfill's tables on the first backfill)",
      ],
      [
        'quota on USERS',
        'none',
        'ALTER USER "REPL" QUOTA UNLIMITED ON USERS (rows and the checkpoint table are stored there)',
      ],
    ],
  );
  // Existing tables need no CREATE TABLE; UNLIMITED TABLESPACE replaces a quota; a full quota fails.
  const existing = checkOracleTargetPrerequisites({
    ...ready,
    privileges: ['CREATE SESSION', 'UNLIMITED TABLESPACE'],
    quotaMaxBytes: undefined,
    missingSystemTables: [],
  });
  assert.ok(existing.every((c) => c.ok));
  // The checkpoint table alone is not enough: the first backfill creates its progress tables.
  const onlyCheckpoint = checkOracleTargetPrerequisites({
    ...ready,
    privileges: ['CREATE SESSION', 'UNLIMITED TABLESPACE'],
    missingSystemTables: ['OTTERFLOW_BACKFILL_CHUNKS'],
  });
  assert.equal(onlyCheckpoint.find((c) => c.name === 'privilege CREATE TABLE')?.ok, false);
  const full = checkOracleTargetPrerequisites({
    ...ready,
    quotaMaxBytes: 10_000_000,
    quotaUsedBytes: 9_500_000,
  });
  assert.equal(full.find((c) => c.name === 'quota on USERS')?.actual, '9500000 of 10000000 bytes used');
  assert.equal(checkOracleTargetPrerequisites({ ...ready, privileges: [] })[0]?.ok, false);
});

test('the connector check reads the state from views every user can query, then closes', async () => {
  const db = new RecordingOracleDatabase();
  db.answer('SELECT version FROM product_component_version', () => [['23.0.0.0.0']]);
  db.answer('SELECT privilege FROM session_privs', () => [['CREATE SESSION'], ['CREATE TABLE']]);
  db.answer('SELECT username, default_tablespace', () => [['REPL', 'USERS']]);
  db.answer('SELECT max_bytes, bytes FROM user_ts_quotas', (b) =>
    b[0] === 'USERS' ? [[5_000_000, 1_000]] : [],
  );
  db.answer('SELECT table_name FROM user_tables', (b) => b.map((t) => [t]));
  const r = await new OracleTargetConnector(async () => db.connect()).check({
    name: 'ora',
    kind: 'oracle',
    host: 'h',
    port: 1521,
    user: 'repl',
    password: 'p',
    serviceName: 'FREEPDB1',
  });
  assert.equal(r.serverVersion, 'Oracle 23.0.0.0.0');
  assert.deepEqual(
    r.checks.map((c) => [c.name, c.ok, c.actual]),
    [
      ['privilege CREATE SESSION', true, 'CREATE SESSION, CREATE TABLE'],
      [
        'privilege CREATE TABLE',
        true,
        'OTTERFLOW_CHECKPOINTS, OTTERFLOW_BACKFILLS, OTTERFLOW_BACKFILL_CHUNKS, OTTERFLOW_RESYNC_REQUESTS exist',
      ],
      ['quota on USERS', true, '1000 of 5000000 bytes used'],
    ],
  );
  assert.equal(db.calls.at(-1)?.method, 'close');
  assert.equal(
    db.calls.some((c) => c.method === 'executeMany' || c.method === 'commit'),
    false,
    'the check writes nothing',
  );
});
