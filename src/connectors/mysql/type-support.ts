import type mysql from 'mysql2/promise';
import type { MappingConfig, PipelineConfig } from '../../pipeline/config';
import type { Mapper } from '../../pipeline/mapping/mapper';

/**
 * Column types that exist in one flavour only. A pipeline whose mapped source column has a type the
 * target server does not know is refused before it reads anything: writing such a value into some
 * other column type would change it silently (docs/value-representation.md, "Types across flavours").
 */

export interface ServerFlavour {
  flavor: 'mysql' | 'mariadb';
  /** [major, minor, patch]. */
  version: [number, number, number];
}

export interface SourceColumn {
  schema: string;
  table: string;
  column: string;
  /** information_schema DATA_TYPE, lowercase. */
  dataType: string;
}

/** Why the target server cannot hold a source type, or undefined when it can. */
export function missingOnTarget(dataType: string, target: ServerFlavour): string | undefined {
  const [major, minor] = target.version;
  if (target.flavor === 'mysql' && (dataType === 'uuid' || dataType === 'inet4' || dataType === 'inet6'))
    return `MySQL has no ${dataType.toUpperCase()} type (a MariaDB type)`;
  if (dataType === 'vector') {
    if (target.flavor === 'mariadb' && (major < 11 || (major === 11 && minor < 7)))
      return `MariaDB ${target.version.join('.')} has no VECTOR type (MariaDB 11.7+ and MySQL 9 have one)`;
    if (target.flavor === 'mysql' && major < 9) return `MySQL ${target.version.join('.')} has no VECTOR type`;
  }
  return undefined;
}

/** Whether mapping `m` sends source column `column` (column include/exclude rules). */
function sendsColumn(m: MappingConfig, column: string): boolean {
  const rules = m.columns;
  if (rules?.include)
    return rules.include.some(
      (e) => (typeof e === 'string' ? e : e.from).toLowerCase() === column.toLowerCase(),
    );
  if (rules?.exclude) return !rules.exclude.some((e) => e.toLowerCase() === column.toLowerCase());
  return true;
}

/** Pure: one message per mapped source column whose type the target lacks, naming the column. */
export function unsupportedColumns(
  columns: readonly SourceColumn[],
  target: ServerFlavour,
  mapper: Pick<Mapper, 'routes'>,
  config: Pick<PipelineConfig, 'mappings'>,
): string[] {
  const problems: string[] = [];
  for (const c of columns) {
    const why = missingOnTarget(c.dataType, target);
    if (!why) continue;
    for (const route of mapper.routes(c.schema, c.table)) {
      const mapping = config.mappings[route.mapping];
      if (!mapping || !sendsColumn(mapping, c.column)) continue;
      problems.push(
        `column ${c.schema}.${c.table}.${c.column} is ${c.dataType.toUpperCase()} on the source and the target ` +
          `cannot hold it: ${why}. Leave the column out (mappings[${route.mapping}].columns.exclude) or replicate ` +
          'into a server that has the type.',
      );
      break;
    }
  }
  return problems;
}

export async function readServerFlavour(conn: mysql.Connection): Promise<ServerFlavour> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v');
  const text = String(rows[0]?.v ?? '');
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(text);
  return {
    flavor: /mariadb/i.test(text) ? 'mariadb' : 'mysql',
    version: m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0],
  };
}

/**
 * The mapped source columns whose types the target server lacks (one message each, naming the
 * column); empty when every type can travel. Read when a replicate run starts, before anything is read.
 */
export async function findUnsupportedColumns(
  source: mysql.Connection,
  target: mysql.Connection,
  mapper: Pick<Mapper, 'routes'>,
  config: Pick<PipelineConfig, 'mappings'>,
): Promise<string[]> {
  const flavour = await readServerFlavour(target);
  const [rows] = await source.query<mysql.RowDataPacket[]>(
    "SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t, COLUMN_NAME AS c, LOWER(DATA_TYPE) AS d FROM information_schema.COLUMNS WHERE LOWER(DATA_TYPE) IN ('uuid', 'inet4', 'inet6', 'vector')",
  );
  const columns = rows.map((r) => ({
    schema: String(r.s),
    table: String(r.t),
    column: String(r.c),
    dataType: String(r.d),
  }));
  return unsupportedColumns(columns, flavour, mapper, config);
}
