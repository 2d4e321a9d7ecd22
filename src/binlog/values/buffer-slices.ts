/**
 * Node's Buffer has undocumented-but-stable per-encoding slice methods that skip `toString`'s
 * argument juggling; the row decoder uses them on the hot path (a unit test checks they exist).
 */
declare global {
  interface Buffer {
    utf8Slice(start?: number, end?: number): string;
    latin1Slice(start?: number, end?: number): string;
    ucs2Slice(start?: number, end?: number): string;
  }
}

export {};
