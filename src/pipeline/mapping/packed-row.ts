import type { CellValue } from '../../binlog/types';

/** Column names of a projection and where each sits: one per projection, shared by all its rows. */
export class RowLayout {
  readonly index: ReadonlyMap<string, number>;
  constructor(readonly names: readonly string[]) {
    this.index = new Map(names.map((n, i) => [n, i]));
  }
}

/**
 * A projected row with every column present, kept as the values array plus its projection's shared
 * layout instead of a Map of its own: building a Map per row image was over a quarter of the bytes a
 * pipeline allocated. It reads like the `Map` the `Row` type is; the first write (a transform may
 * change rows) turns it into a real Map, so writes behave as on any Map.
 */
export class PackedRow implements Map<string, CellValue> {
  private copy: Map<string, CellValue> | undefined;

  constructor(
    private readonly layout: RowLayout,
    private readonly cells: CellValue[],
  ) {}

  get size(): number {
    return this.copy ? this.copy.size : this.cells.length;
  }

  get(key: string): CellValue | undefined {
    if (this.copy) return this.copy.get(key);
    const i = this.layout.index.get(key);
    return i === undefined ? undefined : this.cells[i];
  }

  has(key: string): boolean {
    return this.copy ? this.copy.has(key) : this.layout.index.has(key);
  }

  set(key: string, value: CellValue): this {
    this.writable().set(key, value);
    return this;
  }

  delete(key: string): boolean {
    return this.writable().delete(key);
  }

  clear(): void {
    this.writable().clear();
  }

  forEach(fn: (value: CellValue, key: string, map: Map<string, CellValue>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) fn.call(thisArg, v, k, this);
  }

  keys(): MapIterator<string> {
    return this.copy ? this.copy.keys() : (this.layout.names.values() as unknown as MapIterator<string>);
  }

  values(): MapIterator<CellValue> {
    return this.copy ? this.copy.values() : (this.cells.values() as unknown as MapIterator<CellValue>);
  }

  entries(): MapIterator<[string, CellValue]> {
    return this.copy ? this.copy.entries() : (this.pairs() as unknown as MapIterator<[string, CellValue]>);
  }

  [Symbol.iterator](): MapIterator<[string, CellValue]> {
    return this.entries();
  }

  get [Symbol.toStringTag](): string {
    return 'Map';
  }

  private *pairs(): Generator<[string, CellValue]> {
    const { names } = this.layout;
    for (let i = 0; i < names.length; i++) yield [names[i] as string, this.cells[i] as CellValue];
  }

  private writable(): Map<string, CellValue> {
    this.copy ??= new Map(this.pairs());
    return this.copy;
  }
}
