import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { BinlogDecodeError } from '../../src/binlog/errors';
import { readBinlogFile } from '../../src/binlog/file-reader';

const FIXTURE = join(__dirname, '..', '..', '..', 'shared', 'fixtures', 'binlog', 'mysql-bin.checksum-crc32');
let dir = '';
let original: Buffer;
/** Start offsets of every event of the intact file. */
const starts: number[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'binlog-bad-'));
  original = await readFile(FIXTURE);
  for await (const e of readBinlogFile(FIXTURE)) starts.push(e.pos);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Reads a file until it throws; returns the delivered positions and the error. */
async function readUntilError(path: string) {
  const delivered: number[] = [];
  try {
    for await (const e of readBinlogFile(path)) delivered.push(e.pos);
  } catch (err) {
    return { delivered, err };
  }
  return { delivered, err: undefined };
}

test('a truncated file fails at the cut event, naming file and position, after delivering every whole event', async () => {
  const cutEvent = starts[150]!;
  const path = join(dir, 'truncated.000001');
  await writeFile(path, original.subarray(0, cutEvent + 10));
  const { delivered, err } = await readUntilError(path);
  assert.ok(err instanceof BinlogDecodeError, String(err));
  assert.equal(err.file, 'truncated.000001');
  assert.equal(err.position, cutEvent);
  assert.match(err.message, /truncated/);
  assert.match(err.message, new RegExp(`truncated\\.000001:${cutEvent}`));
  assert.deepEqual(delivered, starts.slice(0, 150));
});

test('a file cut inside an event body (header complete) fails the same way', async () => {
  const cutEvent = starts[200]!;
  const path = join(dir, 'cutbody.000001');
  await writeFile(path, original.subarray(0, cutEvent + 25));
  const { delivered, err } = await readUntilError(path);
  assert.ok(err instanceof BinlogDecodeError);
  assert.equal(err.position, cutEvent);
  assert.equal(delivered.length, 200);
});

test('a flipped byte is a CRC32 mismatch at that event; nothing after it is delivered', async () => {
  const damaged = Buffer.from(original);
  const target = starts[100]!;
  const next = starts[101]!;
  const flipAt = target + Math.floor((next - target) / 2);
  damaged[flipAt] = damaged[flipAt]! ^ 0x40;
  const path = join(dir, 'flipped.000001');
  await writeFile(path, damaged);
  const { delivered, err } = await readUntilError(path);
  assert.ok(err instanceof BinlogDecodeError, String(err));
  assert.match(err.message, /CRC32 mismatch/);
  assert.equal(err.file, 'flipped.000001');
  assert.equal(err.position, target);
  assert.deepEqual(delivered, starts.slice(0, 100));
});

test('a wrong magic number fails at position 0 before any event', async () => {
  const damaged = Buffer.from(original);
  damaged[1] = 0x00;
  const path = join(dir, 'magic.000001');
  await writeFile(path, damaged);
  const { delivered, err } = await readUntilError(path);
  assert.ok(err instanceof BinlogDecodeError);
  assert.equal(err.position, 0);
  assert.match(err.message, /not a binlog file/);
  assert.deepEqual(delivered, []);
});

test('start and stop positions deliver exactly the events in between (after the format description)', async () => {
  const path = join(dir, 'copy.000001');
  await copyFile(FIXTURE, path);
  const got: number[] = [];
  // Events 7 and 17 are the GTID events that open the second and fourth transactions.
  for await (const e of readBinlogFile(path, { startPosition: starts[7], stopPosition: starts[17] }))
    got.push(e.pos);
  assert.deepEqual(got, [4, ...starts.slice(7, 17)]);
});

test('starting inside a transaction fails clearly at the first rows event without its table map', async () => {
  const { delivered, err } = await (async () => {
    const seen: number[] = [];
    try {
      for await (const e of readBinlogFile(FIXTURE, { startPosition: starts[5] })) seen.push(e.pos);
    } catch (error) {
      return { delivered: seen, err: error };
    }
    return { delivered: seen, err: undefined };
  })();
  assert.ok(err instanceof BinlogDecodeError);
  assert.equal(err.position, starts[5]);
  assert.match(err.message, /no TABLE_MAP/);
  assert.deepEqual(delivered, [4]);
});

test('reading with a chunk smaller than an event still delivers every event in order', async () => {
  const got: number[] = [];
  for await (const e of readBinlogFile(FIXTURE, { chunkSize: 1 })) got.push(e.pos);
  assert.deepEqual(got, starts);
});

/** The fixture as a server writes it while the file is open: the FORMAT_DESCRIPTION's in-use flag set, its footer unchanged. */
function openFileBytes(): Buffer {
  const open = Buffer.from(original);
  open[4 + 17] = open[4 + 17]! | 0x1; // LOG_EVENT_BINLOG_IN_USE_F in the first event's flags
  return open;
}

test('a file still being written (in-use flag set, footer computed without it) passes the CRC32 check', async () => {
  const path = join(dir, 'inuse.000001');
  await writeFile(path, openFileBytes());
  const ends: unknown[] = [];
  const { delivered, err } = await (async () => {
    const got: number[] = [];
    try {
      for await (const e of readBinlogFile(path, { onEnd: (end) => ends.push(end) })) got.push(e.pos);
    } catch (e) {
      return { delivered: got, err: e };
    }
    return { delivered: got, err: undefined };
  })();
  assert.equal(err, undefined);
  assert.deepEqual(delivered, starts);
  assert.deepEqual(ends, [{ endPosition: original.length, inUse: true, incompleteBytes: 0 }]);
});

test('an in-use FORMAT_DESCRIPTION whose footer covers the flag is a CRC32 mismatch (the server never writes that)', async () => {
  const open = openFileBytes();
  const fdeSize = open.readUInt32LE(4 + 9);
  const { crc32 } = await import('node:zlib');
  open.writeUInt32LE(crc32(open.subarray(4, 4 + fdeSize - 4)), 4 + fdeSize - 4);
  const path = join(dir, 'inuse-badcrc.000001');
  await writeFile(path, open);
  const { delivered, err } = await readUntilError(path);
  assert.ok(err instanceof BinlogDecodeError);
  assert.match(err.message, /CRC32 mismatch in FORMAT_DESCRIPTION/);
  assert.deepEqual(delivered, []);
});

test('a file in use that ends inside an event ends cleanly after the last complete event and says so', async () => {
  for (const [name, cut] of [
    ['header', 10],
    ['body', 25],
  ] as const) {
    const cutEvent = starts[150]!;
    const path = join(dir, `inuse-cut-${name}.000001`);
    await writeFile(path, openFileBytes().subarray(0, cutEvent + cut));
    const ends: unknown[] = [];
    const delivered: number[] = [];
    for await (const e of readBinlogFile(path, { onEnd: (end) => ends.push(end) })) delivered.push(e.pos);
    assert.deepEqual(delivered, starts.slice(0, 150), name);
    assert.deepEqual(ends, [{ endPosition: cutEvent, inUse: true, incompleteBytes: cut }], name);
  }
});
