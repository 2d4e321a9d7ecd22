/**
 * Name patterns of a mapping's source side (`schema` and `table`) and how a matched name becomes a
 * target name. Three forms, told apart by their shape:
 * - literal: `orders`
 * - shard range: `orders_[00-31]` — one `[low-high]` range; zero padding is kept (a low bound with a
 *   leading zero sets the width), so `orders_05` matches and `orders_5` does not
 * - regex: `/^log_\d+$/` or `/…/i` — JavaScript syntax, anchored only where the user anchors it
 *
 * Patterns are compiled once per mapping; matching happens once per source table (the mapper caches
 * the result), never per row.
 */

export type NamePattern =
  | { kind: 'literal'; text: string; name: string }
  | {
      kind: 'range';
      text: string;
      prefix: string;
      suffix: string;
      low: number;
      high: number;
      /** Digits of the index, 0 when unpadded. */
      width: number;
    }
  | { kind: 'regex'; text: string; regex: RegExp };

/** Thrown for a pattern that cannot be compiled; the config validator turns it into a path + message. */
export class PatternError extends Error {}

const RANGE = /\[(\d+)-(\d+)\]/;
const REGEX_LITERAL = /^\/(.*)\/([imsu]*)$/s;

/** True when `text` is written as a regex (`/…/flags`). */
export function isRegexPattern(text: string): boolean {
  return REGEX_LITERAL.test(text);
}

/** Compile a pattern; throws PatternError with a message meant for the user. */
export function compilePattern(text: string): NamePattern {
  const re = REGEX_LITERAL.exec(text);
  if (re) {
    const [, body = '', flags = ''] = re;
    if (body === '') throw new PatternError('empty regular expression');
    try {
      return { kind: 'regex', text, regex: new RegExp(body, flags) };
    } catch (e) {
      throw new PatternError(`invalid regular expression: ${(e as Error).message}`);
    }
  }
  if (/^\/.*\/[A-Za-z]*$/s.test(text))
    throw new PatternError('regular expression flags may only be i, m, s and u');
  const range = RANGE.exec(text);
  if (range) {
    const [whole, lowText = '', highText = ''] = range;
    const prefix = text.slice(0, range.index);
    const suffix = text.slice(range.index + whole.length);
    if (RANGE.test(suffix) || /[[\]]/.test(prefix + suffix)) {
      throw new PatternError('only one [low-high] shard range is allowed in a name');
    }
    const low = Number(lowText);
    const high = Number(highText);
    if (!Number.isSafeInteger(low) || !Number.isSafeInteger(high))
      throw new PatternError('shard range too large');
    if (low > high)
      throw new PatternError(`shard range [${lowText}-${highText}] has its low bound above its high bound`);
    const width = lowText.length > 1 && lowText.startsWith('0') ? lowText.length : 0;
    if (width > 0 && highText.length !== width) {
      throw new PatternError(
        `zero-padded shard range [${lowText}-${highText}] must give both bounds ${width} digits`,
      );
    }
    return { kind: 'range', text, prefix, suffix, low, high, width };
  }
  if (/[[\]]/.test(text)) throw new PatternError('brackets must form a shard range like [00-31]');
  return { kind: 'literal', text, name: text };
}

/** How a name matched: the shard index for ranges (used to pick the index-to-index target). */
export interface PatternMatch {
  name: string;
  index?: number;
}

/** Match one name against a pattern; undefined when it does not match. Names compare exactly (case-sensitive). */
export function matchPattern(p: NamePattern, name: string): PatternMatch | undefined {
  switch (p.kind) {
    case 'literal':
      return name === p.name ? { name } : undefined;
    case 'regex':
      p.regex.lastIndex = 0;
      return p.regex.test(name) ? { name } : undefined;
    case 'range': {
      if (name.length <= p.prefix.length + p.suffix.length) return undefined;
      if (!name.startsWith(p.prefix) || !name.endsWith(p.suffix)) return undefined;
      const digits = name.slice(p.prefix.length, name.length - p.suffix.length);
      if (!/^\d+$/.test(digits)) return undefined;
      const index = Number(digits);
      if (index < p.low || index > p.high) return undefined;
      // The exact spelling must match: `t_5` is not shard 05 of `t_[00-31]`, and `t_05` is not shard 5 of `t_[0-31]`.
      if (formatIndex(index, p.width) !== digits) return undefined;
      return { name, index };
    }
  }
}

function formatIndex(index: number, width: number): string {
  return width > 0 ? String(index).padStart(width, '0') : String(index);
}

/** How many names a range covers (the count a target range must have for index-to-index mapping). */
export function rangeSize(p: Extract<NamePattern, { kind: 'range' }>): number {
  return p.high - p.low + 1;
}

/**
 * The target side of a mapping for one name: absent (keep the source name), a literal (many-to-one when
 * the source is a range or regex) or a range (index-to-index with a source range of the same size).
 */
export type TargetNamePattern = { kind: 'same' } | Exclude<NamePattern, { kind: 'regex' }>;

/** Compile a target name; a regex is not a name, so it is refused. */
export function compileTargetPattern(text: string | undefined): TargetNamePattern {
  if (text === undefined) return { kind: 'same' };
  const p = compilePattern(text);
  if (p.kind === 'regex') throw new PatternError('a target name cannot be a regular expression');
  return p;
}

/**
 * Check that a target pattern can be resolved for every name the source pattern matches; returns a
 * user-facing message, or undefined when it is fine.
 */
export function checkTargetPattern(source: NamePattern, target: TargetNamePattern): string | undefined {
  if (target.kind !== 'range') return undefined;
  if (source.kind !== 'range') return 'a target shard range needs a source shard range to map index to index';
  if (rangeSize(source) !== rangeSize(target)) {
    return `target range ${target.text} covers ${rangeSize(target)} names but source range ${source.text} covers ${rangeSize(source)}`;
  }
  return undefined;
}

/** The target name for a matched source name. */
export function resolveTargetName(
  source: NamePattern,
  target: TargetNamePattern,
  match: PatternMatch,
): string {
  switch (target.kind) {
    case 'same':
      return match.name;
    case 'literal':
      return target.name;
    case 'range': {
      if (source.kind !== 'range' || match.index === undefined) {
        throw new PatternError(`target range ${target.text} needs a source shard range`);
      }
      const index = target.low + (match.index - source.low);
      return target.prefix + formatIndex(index, target.width) + target.suffix;
    }
  }
}

/** True when several source names may land in the same target name (shards or regex into one literal). */
export function isManyToOne(source: NamePattern, target: TargetNamePattern): boolean {
  return source.kind !== 'literal' && target.kind === 'literal';
}
