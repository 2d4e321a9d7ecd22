import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { CellValue } from '../../src/binlog/types';
import { encodeExecutePacket } from '../../src/connectors/mysql/stmt-execute';

// mysql2's own COM_STMT_EXECUTE writer: our packets must carry exactly its bytes, so the server
// stores exactly what it stored through mysql2 (whose every-type round trips are tested).
type Mysql2Execute = new (
  id: number,
  params: unknown[],
  charsetNumber: number,
  timezone: string,
  attributes: undefined,
  clientFlags: number,
  jsonAsString: boolean,
  parameterDefinitions: unknown[],
) => { toPacket(): { buffer: Buffer } };
const Execute = require(
  path.join(path.dirname(require.resolve('mysql2')), 'lib', 'packets', 'execute.js'),
) as Mysql2Execute;
const UTF8MB4_GENERAL_CI = 45;

function mysql2Bytes(id: number, params: CellValue[]): Buffer {
  return new Execute(id, params, UTF8MB4_GENERAL_CI, 'Z', undefined, 0, true, [])
    .toPacket()
    .buffer.subarray(4);
}

function ours(id: number, params: CellValue[]): Buffer {
  return encodeExecutePacket(id, params).subarray(4);
}

const long = (n: number, c = 'x') => c.repeat(n);

const cases: Array<[string, CellValue[]]> = [
  ['no parameters', []],
  ['one NULL', [null]],
  ['numbers', [0, -1, 1.5, 2 ** 53 - 1, -(2 ** 53), Number.MAX_VALUE, 5e-324, -0]],
  ['bigints', [0n, 18446744073709551615n, -9223372036854775808n, 12345678901234567890n]],
  ['strings', ['', 'a', 'tab\there', "quote ' and \\ backslash", 'naïve ☃ 😀 𝄞', '\0nul']],
  [
    'string length boundaries',
    [long(83), long(84), long(250), long(251), long(252), long(65535), long(65536)],
  ],
  [
    'multi-byte near the one-byte length limit',
    [long(83, 'é'), long(83, '😀'), long(125, 'é'), long(126, 'é')],
  ],
  [
    'buffers',
    [
      Buffer.alloc(0),
      Buffer.from([0, 255, 10, 9]),
      Buffer.alloc(250, 7),
      Buffer.alloc(251, 8),
      Buffer.alloc(70000, 9),
    ],
  ],
  [
    'nine mixed values (null bitmap spans two bytes)',
    [null, 1, 'a', null, 2n, Buffer.from('b'), null, 3.25, null],
  ],
  ['sixteen NULLs', new Array(16).fill(null)],
];

for (const [name, params] of cases)
  test(`COM_STMT_EXECUTE bytes equal mysql2's: ${name}`, () => {
    assert.deepEqual(ours(7, params), mysql2Bytes(7, params));
  });

test('COM_STMT_EXECUTE: a 1000-row chunk of 8 mixed columns equals mysql2, with a large statement id', () => {
  const params: CellValue[] = [];
  for (let i = 0; i < 1000; i++)
    params.push(
      i,
      i % 7 === 0 ? null : `name ${i}`,
      `${i}.25`,
      '2024-01-01 00:00:00.000000',
      BigInt(i) * 1000000007n,
      i / 7,
      Buffer.from([i & 255]),
      'ü'.repeat(i % 100),
    );
  assert.deepEqual(ours(0xfffffffe, params), mysql2Bytes(0xfffffffe, params));
});

test('COM_STMT_EXECUTE refuses values that are not CellValues', () => {
  assert.throws(() => encodeExecutePacket(1, [true as unknown as CellValue]), /cannot bind a boolean/);
  assert.throws(() => encodeExecutePacket(1, [undefined as unknown as CellValue]), /cannot bind a undefined/);
});
