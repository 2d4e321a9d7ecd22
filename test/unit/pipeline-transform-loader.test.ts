import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parsePipelineConfig } from '../../src/pipeline/config';
import type { MappedChange } from '../../src/pipeline/model';
import { loadTransforms } from '../../src/pipeline/transform-loader';

function configWith(transform: string) {
  return parsePipelineConfig({
    name: 'p',
    source: 'a',
    target: 'b',
    mappings: [{ source: { schema: 's', table: 't' }, transform }],
  });
}

test('loads a TypeScript default export and a CommonJS named export, relative to the base directory', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otterflow-transform-'));
  try {
    fs.writeFileSync(
      path.join(dir, 'upper.ts'),
      "export default (c: { kind: string; after?: Map<string, unknown> }) => { c.after?.set('v', 'X'); return c; };\n",
    );
    fs.writeFileSync(path.join(dir, 'drop.js'), 'exports.transform = () => null;\n');
    const change: MappedChange = {
      kind: 'insert',
      target: { schema: 's', table: 't' },
      after: new Map([['v', 'x']]),
    };
    const ctx = { source: { schema: 's', table: 't' }, mapping: 0 };

    const upper = loadTransforms(configWith('./upper.ts'), dir).get('./upper.ts');
    assert.ok(upper);
    const out = upper(change, ctx) as MappedChange;
    assert.equal(out.kind === 'insert' ? out.after.get('v') : undefined, 'X');

    const drop = loadTransforms(configWith('drop.js'), dir).get('drop.js');
    assert.equal(drop?.(change, ctx), null);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing module or one without a function is a clear error', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otterflow-transform-'));
  try {
    fs.writeFileSync(path.join(dir, 'nothing.js'), 'exports.value = 1;\n');
    assert.throws(() => loadTransforms(configWith('./nothing.js'), dir), /must export a function/);
    assert.throws(
      () => loadTransforms(configWith('./absent.ts'), dir),
      /cannot load transform \.\/absent\.ts/,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
