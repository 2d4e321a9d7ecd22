import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { type PipelineConfig, pipelineConfigSchema } from '../pipeline/config';

/** A stored pipeline definition: the validated configuration plus bookkeeping. */
export interface PipelineDefinition {
  config: PipelineConfig;
  /** Increases with every change of the definition; passed to the workflow as its config version. */
  version: number;
  createdAt: string;
  updatedAt: string;
}

const definitionSchema = z.object({
  config: pipelineConfigSchema,
  version: z.number().int().min(1),
  createdAt: z.string(),
  updatedAt: z.string(),
});

/**
 * Pipeline definitions in one JSON file under OTTERFLOW_HOME: the catalog of a single process
 * without OTTERFLOW_CATALOG_URL (src/catalog/file-catalog.ts) and what the catalog database imports
 * once. Written atomically (temp file + rename): a reader never sees half a file. Running state is
 * not kept here: Temporal is the truth for that.
 */
export class PipelineStore {
  constructor(private readonly file: string) {}

  list(): PipelineDefinition[] {
    if (!fs.existsSync(this.file)) return [];
    const raw = JSON.parse(fs.readFileSync(this.file, 'utf8')) as unknown;
    return z.array(definitionSchema).parse(raw);
  }

  get(name: string): PipelineDefinition | undefined {
    return this.list().find((d) => d.config.name === name);
  }

  /** Inserts or replaces the definition of `config.name`; returns the stored record. */
  put(config: PipelineConfig, now = new Date()): PipelineDefinition {
    const all = this.list();
    const existing = all.find((d) => d.config.name === config.name);
    const record: PipelineDefinition = {
      config,
      version: (existing?.version ?? 0) + 1,
      createdAt: existing?.createdAt ?? now.toISOString(),
      updatedAt: now.toISOString(),
    };
    this.write([...all.filter((d) => d.config.name !== config.name), record]);
    return record;
  }

  remove(name: string): boolean {
    const all = this.list();
    const kept = all.filter((d) => d.config.name !== name);
    if (kept.length !== all.length) this.write(kept);
    return kept.length !== all.length;
  }

  private write(all: PipelineDefinition[]): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(all, null, 2));
    fs.renameSync(tmp, this.file);
  }
}

export function pipelineStoreFile(home: string): string {
  return path.join(home, 'pipelines.json');
}
