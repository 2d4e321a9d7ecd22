import { SYSTEM_SCHEMA } from '../connectors/target';
import type { Mapper } from '../pipeline/mapping/mapper';

/**
 * The decoder's table filter for a pipeline: rows of a table are decoded only when a mapping
 * selects it, or when it is one of otterflow's own tables on the source (the lag heartbeat, channel
 * marks). Everything else is skipped before its rows are decoded, so that a table nobody replicates
 * (with a value the decoder refuses, or partial JSON updates) cannot stop the pipeline.
 */
export function decodedTables(mapper: Pick<Mapper, 'isMapped'>): (schema: string, table: string) => boolean {
  return (schema, table) => schema === SYSTEM_SCHEMA || mapper.isMapped(schema, table);
}
