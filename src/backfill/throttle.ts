/**
 * A rows-per-second cap (pure: the caller supplies the clock). `delayFor(n)` says how long to wait
 * before (or after) handling `n` more rows so that the average since `start` stays at or under the cap.
 * A cap of 0 or undefined means no limit.
 */
export class RateLimit {
  private rows = 0;
  private readonly startedAt: number;

  constructor(
    private readonly rowsPerSecond: number | undefined,
    now: number,
  ) {
    this.startedAt = now;
  }

  /** Records `n` rows at time `now` and returns the milliseconds to pause to stay under the cap. */
  take(n: number, now: number): number {
    this.rows += n;
    if (!this.rowsPerSecond || this.rowsPerSecond <= 0) return 0;
    const earliest = this.startedAt + (this.rows / this.rowsPerSecond) * 1000;
    return Math.max(0, Math.ceil(earliest - now));
  }

  /** Milliseconds until the next row may go, without taking any. */
  wait(now: number): number {
    return this.take(0, now);
  }
}
