import fs from 'node:fs';
import path from 'node:path';

/**
 * The ownership marker beside a server's data directory: a local MariaDB or MySQL instance starts
 * only on a data directory Otterflow created, never on someone else's files.
 */
const MARKER = 'otterflow-instance.json';

/** True when the instance folder carries our marker (its data directory was created by us). */
export function hasOwnershipMarker(instanceDir: string): boolean {
  return fs.existsSync(path.join(instanceDir, MARKER));
}

/** Throws when `dataDir` holds files and the instance folder has no marker of ours. */
export function assertDataDirOwned(instanceDir: string, dataDir: string): void {
  if (hasOwnershipMarker(instanceDir)) return;
  if (fs.existsSync(dataDir) && fs.readdirSync(dataDir).length > 0) {
    throw new Error(
      `${dataDir} is not empty and was not created by Otterflow (no ${MARKER} beside it). ` +
        'Refusing to start a server on a data directory that is not ours: move it away or choose ' +
        'another OTTERFLOW_HOME.',
    );
  }
}

/** Writes the marker once the data directory has been initialised. */
export function writeOwnershipMarker(instanceDir: string, name: string): void {
  fs.writeFileSync(
    path.join(instanceDir, MARKER),
    JSON.stringify({ createdBy: 'otterflow', name, createdAt: new Date().toISOString() }, null, 2),
  );
}
