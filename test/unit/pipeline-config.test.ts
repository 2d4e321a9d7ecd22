import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { pipelineConfigSchema, validatePipelineConfig } from '../../src/pipeline/config';
import {
  compilePattern,
  compileTargetPattern,
  matchPattern,
  PatternError,
  resolveTargetName,
} from '../../src/pipeline/mapping/patterns';

const minimal = {
  name: 'orders-sync',
  source: 'src',
  target: 'dst',
  mappings: [{ source: { schema: 'shop', table: 'orders' } }],
};

function errorsOf(input: unknown) {
  const r = validatePipelineConfig(input);
  assert.equal(r.ok, false, 'expected the configuration to be rejected');
  return r.ok ? [] : r.errors;
}

function withMapping(mapping: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { ...minimal, ...extra, mappings: [mapping] };
}

describe('pipeline configuration', () => {
  test('a minimal configuration gets every default', () => {
    const r = validatePipelineConfig(minimal);
    assert.ok(r.ok);
    assert.deepEqual(r.config.options, {
      batchSize: 25_000,
      maxBatchDelayMs: 200,
      maxBatchBytes: 16 * 1024 * 1024,
      syncMode: 'ROW',
      ddl: 'stop',
      onError: 'stop',
      missingRow: 'report',
      loadExistingData: false,
      parallelism: 1,
    });
    assert.equal(r.config.start, 'current');
    assert.deepEqual(r.config.mappings[0]?.target, {});
    assert.equal(r.config.mappings[0]?.weight, 0);
  });

  test('the documented YAML example is valid', async () => {
    const fs = await import('node:fs');
    const doc = fs.readFileSync(`${__dirname}/../../docs/pipeline-config.md`, 'utf8');
    const yaml = /```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
    assert.ok(yaml, 'docs/pipeline-config.md has a yaml example');
    const r = validatePipelineConfig(parseYaml(yaml));
    assert.deepEqual(r.ok ? [] : r.errors, []);
  });

  test('start positions: current, file/pos, gtid', () => {
    for (const start of ['current', { file: 'mysql-bin.000003', pos: 4 }, { gtid: '0-1-42' }]) {
      assert.ok(validatePipelineConfig({ ...minimal, start }).ok, JSON.stringify(start));
    }
  });

  const rejected: [string, unknown, string, RegExp][] = [
    ['unknown top-level field', { ...minimal, extra: 1 }, 'extra', /unknown field/],
    ['bad pipeline name', { ...minimal, name: '1bad name' }, 'name', /letter/],
    ['no mappings', { ...minimal, mappings: [] }, 'mappings', /.+/],
    [
      'unknown mapping field',
      withMapping({ source: { schema: 's', table: 't' }, colums: {} }),
      'mappings.0.colums',
      /unknown/,
    ],
    ['missing source table', withMapping({ source: { schema: 's' } }), 'mappings.0.source.table', /.+/],
    ['batch size too big', { ...minimal, options: { batchSize: 250_001 } }, 'options.batchSize', /.+/],
    ['batch size zero', { ...minimal, options: { batchSize: 0 } }, 'options.batchSize', /.+/],
    ['unknown sync mode', { ...minimal, options: { syncMode: 'COLUMN' } }, 'options.syncMode', /.+/],
    ['unknown option', { ...minimal, options: { dryRun: true } }, 'options.dryRun', /unknown/],
    ['start pos below 4', { ...minimal, start: { file: 'b.000001', pos: 1 } }, 'start.pos', /.+/],
    [
      'start with both forms',
      { ...minimal, start: { file: 'b.1', pos: 4, gtid: 'x' } },
      'start.gtid',
      /unknown/,
    ],
    [
      'bad regex',
      withMapping({ source: { schema: 's', table: '/log_(\\d+$/' } }),
      'mappings.0.source.table',
      /regular expression/,
    ],
    [
      'reversed shard range',
      withMapping({ source: { schema: 's', table: 't_[10-02]' } }),
      'mappings.0.source.table',
      /low bound/,
    ],
    [
      'two shard ranges',
      withMapping({ source: { schema: 's', table: 't_[0-1]_[0-1]' } }),
      'mappings.0.source.table',
      /only one/,
    ],
    [
      'stray bracket',
      withMapping({ source: { schema: 's', table: 't_[a]' } }),
      'mappings.0.source.table',
      /bracket/,
    ],
    [
      'padded range with uneven widths',
      withMapping({ source: { schema: 's', table: 't_[01-128]' } }),
      'mappings.0.source.table',
      /digits/,
    ],
    [
      'target range of another size',
      withMapping({ source: { schema: 's', table: 't_[00-31]' }, target: { table: 'u_[0-15]' } }),
      'mappings.0.target.table',
      /covers 16/,
    ],
    [
      'target range for a literal source',
      withMapping({ source: { schema: 's', table: 't' }, target: { table: 'u_[0-3]' } }),
      'mappings.0.target.table',
      /source shard range/,
    ],
    [
      'target regex',
      withMapping({ source: { schema: 's', table: '/x/' }, target: { table: '/y/' } }),
      'mappings.0.target.table',
      /regular/,
    ],
    [
      'include and exclude',
      withMapping({ source: { schema: 's', table: 't' }, columns: { include: ['a'], exclude: ['b'] } }),
      'mappings.0.columns.exclude',
      /either/,
    ],
    [
      'duplicate target column after rename',
      withMapping({
        source: { schema: 's', table: 't' },
        columns: { include: ['a', { from: 'b', to: 'a' }] },
      }),
      'mappings.0.columns.include.1',
      /also written/,
    ],
    [
      'group column not included',
      withMapping({
        source: { schema: 's', table: 't' },
        columns: { include: ['a', 'b'], groups: [['a', 'c']] },
      }),
      'mappings.0.columns.groups.0.1',
      /include/,
    ],
    [
      'filter with two forms',
      withMapping({
        source: { schema: 's', table: 't' },
        filter: { all: [], column: 'a', op: '=', value: 1 },
      }),
      'mappings.0.filter',
      /exactly one/,
    ],
    [
      'filter compares with null',
      withMapping({ source: { schema: 's', table: 't' }, filter: { column: 'a', op: '=' } }),
      'mappings.0.filter.value',
      /isNull/,
    ],
    [
      'filter in without a list',
      withMapping({
        source: { schema: 's', table: 't' },
        filter: { any: [{ column: 'a', op: 'in', value: 3 }] },
      }),
      'mappings.0.filter.any.0.value',
      /list/,
    ],
    [
      'nested unknown op',
      withMapping({
        source: { schema: 's', table: 't' },
        filter: { not: { column: 'a', op: '~', value: 1 } },
      }),
      'mappings.0.filter.not.op',
      /.+/,
    ],
    [
      'like with a number',
      withMapping({ source: { schema: 's', table: 't' }, filter: { column: 'a', op: 'like', value: 5 } }),
      'mappings.0.filter.value',
      /string/,
    ],
    [
      'transform not a module',
      withMapping({ source: { schema: 's', table: 't' }, transform: 'rm -rf /' }),
      'mappings.0.transform',
      /module/,
    ],
    [
      'a table onto itself',
      { ...withMapping({ source: { schema: 's', table: 't' } }), target: 'src' },
      'mappings.0.target',
      /onto itself/,
    ],
  ];
  for (const [what, input, path, message] of rejected) {
    test(`rejects ${what} at ${path}`, () => {
      const errors = errorsOf(input);
      const hit = errors.find((e) => e.path === path);
      assert.ok(hit, `no error at ${path}: ${JSON.stringify(errors)}`);
      assert.match(hit.message, message);
    });
  }

  test('duplicate mappings are reported at the second one', () => {
    const m = { source: { schema: 's', table: 't' }, target: { table: 'u' } };
    const errors = errorsOf({ ...minimal, mappings: [m, { ...m }] });
    assert.deepEqual(
      errors.map((e) => e.path),
      ['mappings.1.source'],
    );
  });

  test('fan-out to two targets is allowed', () => {
    const r = validatePipelineConfig({
      ...minimal,
      mappings: [
        { source: { schema: 's', table: 't' }, target: { table: 'a' } },
        { source: { schema: 's', table: 't' }, target: { table: 'b' }, columns: { exclude: ['secret'] } },
      ],
    });
    assert.ok(r.ok);
  });

  test('the bare schema already rejects unknown fields (so the API gets a zod error)', () => {
    assert.equal(pipelineConfigSchema.safeParse({ ...minimal, option: {} }).success, false);
  });
});

describe('name patterns', () => {
  const cases: [string, string, string | undefined, string | undefined][] = [
    // pattern, name, target pattern, expected target (undefined: no match)
    ['orders', 'orders', undefined, 'orders'],
    ['orders', 'Orders', undefined, undefined],
    ['orders_[00-31]', 'orders_05', undefined, 'orders_05'],
    ['orders_[00-31]', 'orders_5', undefined, undefined],
    ['orders_[00-31]', 'orders_32', undefined, undefined],
    ['orders_[00-31]', 'orders_31', 'orders', 'orders'],
    ['orders_[00-31]', 'orders_07', 'o_[100-131]', 'o_107'],
    ['orders_[00-31]', 'orders_07', 'o_[0-31]', 'o_7'],
    ['t_[1-128]', 't_128', 'u_[001-128]', 'u_128'],
    ['t_[1-128]', 't_9', 'u_[001-128]', 'u_009'],
    ['t_[1-128]', 't_09', undefined, undefined],
    ['t_[0-9]_x', 't_3_x', 'u_[10-19]_y', 'u_13_y'],
    ['t_[0-9]_x', 't_3_y', undefined, undefined],
    ['/^log_\\d+$/', 'log_2024', undefined, 'log_2024'],
    ['/^log_\\d+$/', 'log_x', undefined, undefined],
    ['/^LOG_/i', 'log_a', 'all_logs', 'all_logs'],
  ];
  for (const [pattern, name, target, expected] of cases) {
    test(`${pattern} ${expected === undefined ? 'does not match' : 'matches'} ${name}${target ? ` → ${target}` : ''}`, () => {
      const p = compilePattern(pattern);
      const m = matchPattern(p, name);
      if (expected === undefined) return assert.equal(m, undefined);
      assert.ok(m);
      assert.equal(resolveTargetName(p, compileTargetPattern(target), m), expected);
    });
  }

  test('a regex with the global flag is refused rather than matching every other time', () => {
    assert.throws(() => compilePattern('/x/g'), PatternError);
  });
});

test('parallel apply lanes are refused with the field path, not accepted and ignored', () => {
  const errors = errorsOf({ ...minimal, options: { parallelism: 4 } });
  assert.deepEqual(
    errors.map((e) => e.path),
    ['options.parallelism'],
  );
  assert.match(errors[0]?.message ?? '', /parallel apply lanes are not supported yet/);
  assert.equal(validatePipelineConfig({ ...minimal, options: { parallelism: 1 } }).ok, true);
});
