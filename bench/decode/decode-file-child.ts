/**
 * Child process of the big-file decode benchmark (big-file.ts): decodes the binlog files given as
 * arguments with the file reader (every value decoded, nothing kept) and prints one JSON line
 * {rows, events, bytes, seconds, rssBeforeMb}. Runs alone in its process so that the parent can
 * sample its RSS from /proc without measuring the generator or mysql2.
 */
import { stat } from 'node:fs/promises';
import { readBinlogFile } from '../../src/binlog/file-reader';

async function main(): Promise<void> {
  const files = process.argv.slice(2);
  const rssBeforeMb = process.memoryUsage().rss / 2 ** 20;
  let rows = 0;
  let events = 0;
  let bytes = 0;
  // A cheap use of every value, so that nothing is optimised away and nothing is retained.
  let checksum = 0;
  process.stdout.write('start\n');
  const started = process.hrtime.bigint();
  for (const f of files) {
    bytes += (await stat(f)).size;
    for await (const e of readBinlogFile(f)) {
      events++;
      if (e.event.kind !== 'rows') continue;
      for (const r of e.event.rows) {
        rows++;
        const image = r.kind === 'delete' ? r.before : r.after;
        checksum = (checksum + image.length) | 0;
      }
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(`${JSON.stringify({ rows, events, bytes, seconds, rssBeforeMb, checksum })}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exit(1);
  },
);
