/**
 * MySQL partial JSON updates (binlog_row_value_options=PARTIAL_JSON): the after image of a JSON
 * column in a PARTIAL_UPDATE_ROWS event may be a list of logical diffs (JSON_REPLACE, JSON_INSERT,
 * JSON_REMOVE at a path, with a binary JSON value) instead of the document. Applying them to the
 * before value gives the after value, printed as MySQL prints JSON (json-binary.ts), so it equals
 * the full after image the server would have logged without PARTIAL_JSON.
 *
 * Documents are handled as trees whose scalars keep their printed text (exact numbers, opaque
 * values); objects keep MySQL's key order (shorter keys first, then by bytes), which is the order
 * binary JSON stores and prints them in.
 */
import { jsonBinaryToText } from './json-binary';

export type JsonNode =
  | { kind: 'object'; keys: string[]; values: JsonNode[] }
  | { kind: 'array'; items: JsonNode[] }
  | { kind: 'scalar'; text: string };

export interface JsonDiff {
  operation: 'replace' | 'insert' | 'remove';
  path: string;
  /** The new value as JSON text (absent for remove). */
  value?: string;
}

const OPERATIONS = ['replace', 'insert', 'remove'] as const;

function fail(what: string): never {
  throw new Error(`partial JSON update: ${what}`);
}

/** A packed integer (net_field_length) at `o`: [value, next offset]. */
function packed(buf: Buffer, o: number, end: number): [number, number] {
  if (o >= end) fail('truncated diff');
  const first = buf[o] as number;
  if (first < 251) return [first, o + 1];
  const size =
    first === 0xfc ? 2 : first === 0xfd ? 3 : first === 0xfe ? 8 : fail(`bad length byte ${first}`);
  if (o + 1 + size > end) fail('truncated diff');
  const v = size === 8 ? Number(buf.readBigUInt64LE(o + 1)) : buf.readUIntLE(o + 1, size);
  return [v, o + 1 + size];
}

/** Reads the diff list of one column value `buf[start, end)` (after its length prefix). */
export function readJsonDiffs(buf: Buffer, start: number, end: number): JsonDiff[] {
  const diffs: JsonDiff[] = [];
  let o = start;
  while (o < end) {
    const operation = OPERATIONS[buf[o] as number] ?? fail(`unknown diff operation ${buf[o]}`);
    let n: number;
    [n, o] = packed(buf, o + 1, end);
    if (o + n > end) fail('truncated path');
    const path = buf.toString('utf8', o, o + n);
    o += n;
    if (operation === 'remove') {
      diffs.push({ operation, path });
      continue;
    }
    [n, o] = packed(buf, o, end);
    if (o + n > end) fail('truncated value');
    diffs.push({ operation, path, value: jsonBinaryToText(buf, o, o + n) });
    o += n;
  }
  return diffs;
}

// ---- JSON text (as MySQL prints it) <-> tree ----

/** Parses JSON text into a tree; scalars keep their text. */
export function parseJsonText(text: string): JsonNode {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i] as string)) i++;
  };
  const stringEnd = (from: number): number => {
    let j = from + 1;
    while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
    if (j >= text.length) fail('unterminated string in a JSON value');
    return j + 1;
  };
  const value = (): JsonNode => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const node: JsonNode = { kind: 'object', keys: [], values: [] };
      ws();
      if (text[i] === '}') {
        i++;
        return node;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail(`expected a key at ${i}`);
        const e = stringEnd(i);
        node.keys.push(JSON.parse(text.slice(i, e)) as string);
        i = e;
        ws();
        if (text[i++] !== ':') fail(`expected ':' at ${i - 1}`);
        node.values.push(value());
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return node;
        } else fail(`expected ',' or '}' at ${i}`);
      }
    }
    if (c === '[') {
      i++;
      const node: JsonNode = { kind: 'array', items: [] };
      ws();
      if (text[i] === ']') {
        i++;
        return node;
      }
      for (;;) {
        node.items.push(value());
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return node;
        } else fail(`expected ',' or ']' at ${i}`);
      }
    }
    const start = i;
    if (c === '"') i = stringEnd(i);
    else while (i < text.length && !',]} \t\n\r'.includes(text[i] as string)) i++;
    if (i === start) fail(`expected a value at ${i}`);
    return { kind: 'scalar', text: text.slice(start, i) };
  };
  const root = value();
  ws();
  if (i !== text.length) fail(`trailing text at ${i}`);
  return root;
}

/** Prints a tree as MySQL prints JSON (`{"a": 1, "b": [true, null]}`). */
export function printJson(node: JsonNode): string {
  switch (node.kind) {
    case 'scalar':
      return node.text;
    case 'array':
      return `[${node.items.map(printJson).join(', ')}]`;
    case 'object':
      return `{${node.keys.map((k, i) => `${JSON.stringify(k)}: ${printJson(node.values[i] as JsonNode)}`).join(', ')}}`;
  }
}

/** MySQL's key order in a JSON object: shorter (in UTF-8 bytes) first, then by bytes. */
function compareKeys(a: string, b: string): number {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return ab.length - bb.length || Buffer.compare(ab, bb);
}

// ---- paths ----

type PathLeg = { member: string } | { index: number; fromEnd: boolean };

/** Parses a JSON path as the server writes it in diffs: `$`, `.key`, `."quoted key"`, `[n]`, `[last]`, `[last-n]`. */
export function parseJsonPath(path: string): PathLeg[] {
  if (path[0] !== '$') fail(`path ${path} does not start with $`);
  const legs: PathLeg[] = [];
  let i = 1;
  while (i < path.length) {
    const c = path[i];
    if (c === ' ') {
      i++;
    } else if (c === '.') {
      i++;
      if (path[i] === '"') {
        let j = i + 1;
        while (j < path.length && path[j] !== '"') j += path[j] === '\\' ? 2 : 1;
        legs.push({ member: JSON.parse(path.slice(i, j + 1)) as string });
        i = j + 1;
      } else {
        const start = i;
        while (i < path.length && path[i] !== '.' && path[i] !== '[') i++;
        legs.push({ member: path.slice(start, i) });
      }
    } else if (c === '[') {
      const close = path.indexOf(']', i);
      if (close < 0) fail(`unterminated [ in path ${path}`);
      const inner = path.slice(i + 1, close).replace(/\s+/g, '');
      const m = /^(?:(\d+)|last(?:-(\d+))?)$/.exec(inner);
      if (!m) fail(`unsupported array index [${inner}] in path ${path}`);
      legs.push(
        m[1] !== undefined
          ? { index: Number(m[1]), fromEnd: false }
          : { index: Number(m[2] ?? 0), fromEnd: true },
      );
      i = close + 1;
    } else fail(`unexpected ${c} in path ${path}`);
  }
  return legs;
}

function arrayPosition(leg: { index: number; fromEnd: boolean }, length: number): number {
  return leg.fromEnd ? length - 1 - leg.index : leg.index;
}

/** The node a leg leads to from `node`, or undefined. `$.a[0]` on a non-array is the value itself. */
function step(node: JsonNode, leg: PathLeg): JsonNode | undefined {
  if ('member' in leg) {
    if (node.kind !== 'object') return undefined;
    const at = node.keys.indexOf(leg.member);
    return at < 0 ? undefined : node.values[at];
  }
  if (node.kind !== 'array') return arrayPosition(leg, 1) === 0 ? node : undefined;
  return node.items[arrayPosition(leg, node.items.length)];
}

/** Applies one diff to `root`; returns the new root. */
function applyDiff(root: JsonNode, diff: JsonDiff): JsonNode {
  const legs = parseJsonPath(diff.path);
  const value = diff.value === undefined ? undefined : parseJsonText(diff.value);
  if (legs.length === 0) {
    if (diff.operation !== 'replace' || !value) fail(`cannot ${diff.operation} the whole document`);
    return value;
  }
  let parent: JsonNode | undefined = root;
  for (const leg of legs.slice(0, -1)) {
    parent = parent && step(parent, leg);
    if (!parent) fail(`path ${diff.path} is not in the before value`);
  }
  const last = legs[legs.length - 1] as PathLeg;
  if ('member' in last) {
    if (parent.kind !== 'object') fail(`path ${diff.path}: the parent is not an object`);
    const at = parent.keys.indexOf(last.member);
    if (diff.operation === 'remove') {
      if (at < 0) fail(`path ${diff.path} is not in the before value`);
      parent.keys.splice(at, 1);
      parent.values.splice(at, 1);
    } else if (at >= 0) parent.values[at] = value as JsonNode;
    else if (diff.operation === 'replace') fail(`path ${diff.path} is not in the before value`);
    else {
      let pos = 0;
      while (pos < parent.keys.length && compareKeys(parent.keys[pos] as string, last.member) < 0) pos++;
      parent.keys.splice(pos, 0, last.member);
      parent.values.splice(pos, 0, value as JsonNode);
    }
    return root;
  }
  if (parent.kind !== 'array') {
    // `$.a[0]` names a non-array value itself.
    if (diff.operation === 'replace' && arrayPosition(last, 1) === 0)
      return replaceChild(root, legs.slice(0, -1), value as JsonNode);
    fail(`path ${diff.path}: the parent is not an array`);
  }
  const pos = arrayPosition(last, parent.items.length);
  if (diff.operation === 'insert')
    parent.items.splice(Math.min(Math.max(pos, 0), parent.items.length), 0, value as JsonNode);
  else if (pos < 0 || pos >= parent.items.length) fail(`path ${diff.path} is not in the before value`);
  else if (diff.operation === 'remove') parent.items.splice(pos, 1);
  else parent.items[pos] = value as JsonNode;
  return root;
}

/** Replaces the node at `legs` (an existing path) with `value`. */
function replaceChild(root: JsonNode, legs: PathLeg[], value: JsonNode): JsonNode {
  if (legs.length === 0) return value;
  return applyDiff(root, { operation: 'replace', path: pathText(legs), value: printJson(value) });
}

function pathText(legs: PathLeg[]): string {
  return `$${legs
    .map((l) =>
      'member' in l ? `.${JSON.stringify(l.member)}` : l.fromEnd ? `[last-${l.index}]` : `[${l.index}]`,
    )
    .join('')}`;
}

/** The after value of a JSON column: `diffs` applied in order to the before value's text. */
export function applyJsonDiffs(before: string, diffs: readonly JsonDiff[]): string {
  let root = parseJsonText(before);
  for (const diff of diffs) root = applyDiff(root, diff);
  return printJson(root);
}
