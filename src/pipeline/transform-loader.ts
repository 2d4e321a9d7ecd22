import path from 'node:path';
import type { PipelineConfig } from './config';
import type { TransformFn, TransformRegistry } from './mapping/transform';

/**
 * Load the transform modules a configuration names (I/O: used by the replicate activity, never by
 * the pure pipeline code). Relative paths resolve against `baseDir`. TypeScript modules load because
 * the worker runs under tsx. A module must export a function as `default` or `transform`.
 */
export function loadTransforms(config: Pick<PipelineConfig, 'mappings'>, baseDir: string): TransformRegistry {
  const out = new Map<string, TransformFn>();
  for (const m of config.mappings) {
    if (m.transform === undefined || out.has(m.transform)) continue;
    const file = path.resolve(baseDir, m.transform);
    let mod: unknown;
    try {
      mod = require(file);
    } catch (e) {
      throw new Error(`cannot load transform ${m.transform} (${file}): ${(e as Error).message}`);
    }
    const fn = pickFunction(mod);
    if (!fn) throw new Error(`transform ${m.transform} must export a function as default or as "transform"`);
    out.set(m.transform, fn);
  }
  return out;
}

function pickFunction(mod: unknown): TransformFn | undefined {
  if (typeof mod === 'function') return mod as TransformFn;
  if (mod && typeof mod === 'object') {
    const o = mod as { default?: unknown; transform?: unknown };
    if (typeof o.transform === 'function') return o.transform as TransformFn;
    if (typeof o.default === 'function') return o.default as TransformFn;
    // An ES module compiled to CommonJS by tsx nests the default export once more.
    if (o.default && typeof o.default === 'object') return pickFunction(o.default);
  }
  return undefined;
}
