import type { ResolvedDatasource } from '../../config/datasources';
import type { OracleApplierOptions } from './applier';

/** How an Oracle target session is set up: the applier's options plus where the checkpoint table lives. */
export interface OracleTargetSettings extends OracleApplierOptions {
  /** Schema (user) of `OTTERFLOW_CHECKPOINTS`; default: the connecting user's own schema. */
  checkpointSchema?: string;
}

/** The settings a datasource's `oracle` block gives (identifier case, zero dates, empty strings, checkpoint schema). */
export function oracleTargetSettings(ds: Pick<ResolvedDatasource, 'oracle'>): OracleTargetSettings {
  const o = ds.oracle ?? {};
  return {
    ...(o.identifierCase ? { identifierCase: o.identifierCase } : {}),
    ...(o.zeroDates ? { zeroDates: o.zeroDates } : {}),
    ...(o.emptyStrings ? { emptyStrings: o.emptyStrings } : {}),
    ...(o.checkpointSchema ? { checkpointSchema: o.checkpointSchema } : {}),
  };
}
