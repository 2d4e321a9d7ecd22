/**
 * Ports of the servers and workers a test starts for itself (private MariaDB/Temporal instances,
 * worker metrics), as offsets from one base: OTTERFLOW_TEST_PRIVATE_PORT_BASE (default 24000) moves
 * them all at once, so two checkouts on one machine can run their tests side by side.
 *
 * Offsets in use: 311 replica private server, 410 bidirectional cascade, 601 MINIMAL-metadata
 * server, 700–799 failover/restart servers and workers, 800–899 the API validation's statement-logging
 * server, 911–912 backfill-resume workers, 1306+ the devstack test.
 */
export function privatePort(offset: number): number {
  const base = Number(process.env.OTTERFLOW_TEST_PRIVATE_PORT_BASE ?? 24000);
  if (!Number.isInteger(base) || base < 1024 || base + offset > 65535)
    throw new Error(`OTTERFLOW_TEST_PRIVATE_PORT_BASE=${base}: ports base+${offset} must fit in 1024–65535`);
  return base + offset;
}
