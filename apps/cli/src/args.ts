/**
 * Flag parsing for the subcommands. Every mistake becomes a UsageError whose one-line message names the flag,
 * what was expected and what was given; main() prints it and exits 2.
 */
import { DTYPES, type DType } from '@flashattn/core';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type FlagKind = 'bool' | 'string';

export interface FlagSpec {
  readonly kind: FlagKind;
  readonly help: string;
  /** Shown in help, e.g. "FILE", "N", "a,b". */
  readonly value?: string;
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

export interface Parsed {
  readonly flags: ReadonlyMap<string, string | true>;
  readonly positionals: readonly string[];
}

export function parseFlags(command: string, specs: FlagSpecs, args: readonly string[]): Parsed {
  const flags = new Map<string, string | true>();
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!a.startsWith('--') || a === '--') {
      if (a.startsWith('-') && a.length > 1 && !/^-\d/.test(a))
        throw new UsageError(`${a}: unknown flag for \`flashattn ${command}\` (flags: ${Object.keys(specs).map((f) => `--${f}`).join(', ')})`);
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
    const spec = specs[name];
    if (!spec) throw new UsageError(`--${name}: unknown flag for \`flashattn ${command}\` (flags: ${Object.keys(specs).map((f) => `--${f}`).join(', ')})`);
    if (flags.has(name)) throw new UsageError(`--${name}: given twice`);
    if (spec.kind === 'bool') {
      if (eq >= 0) {
        const v = a.slice(eq + 1);
        if (v !== 'true' && v !== 'false') throw new UsageError(`--${name}: expected no value (or =true/=false), got ${JSON.stringify(v)}`);
        if (v === 'true') flags.set(name, true);
        continue;
      }
      flags.set(name, true);
      continue;
    }
    let v: string | undefined;
    if (eq >= 0) v = a.slice(eq + 1);
    else {
      v = args[i + 1];
      if (v === undefined || (v.startsWith('--') && v.length > 2))
        throw new UsageError(`--${name}: expected a value${spec.value ? ` (${spec.value})` : ''}, got nothing`);
      i++;
    }
    if (v === '') throw new UsageError(`--${name}: expected a value${spec.value ? ` (${spec.value})` : ''}, got an empty string`);
    flags.set(name, v);
  }
  return { flags, positionals };
}

/** Typed accessors over a Parsed; each conversion error names its flag. */
export class Flags {
  constructor(readonly parsed: Parsed) {}

  has(name: string): boolean {
    return this.parsed.flags.has(name);
  }

  bool(name: string): boolean {
    return this.parsed.flags.get(name) === true;
  }

  str(name: string): string | undefined {
    const v = this.parsed.flags.get(name);
    return typeof v === 'string' ? v : undefined;
  }

  int(name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const v = this.str(name);
    if (v === undefined) return undefined;
    return toInt(`--${name}`, v, min, max);
  }

  num(name: string, pred: (x: number) => boolean, expected: string): number | undefined {
    const v = this.str(name);
    if (v === undefined) return undefined;
    const x = Number(v);
    if (v.trim() === '' || !Number.isFinite(x) || !pred(x)) throw new UsageError(`--${name}: expected ${expected}, got ${JSON.stringify(v)}`);
    return x;
  }

  list(name: string): string[] | undefined {
    const v = this.str(name);
    if (v === undefined) return undefined;
    const items = v.split(',').map((s) => s.trim());
    if (items.some((s) => s === '')) throw new UsageError(`--${name}: expected a comma-separated list with no empty items, got ${JSON.stringify(v)}`);
    return items;
  }

  intList(name: string, min = 1, max = Number.MAX_SAFE_INTEGER): number[] | undefined {
    return this.list(name)?.map((s) => toInt(`--${name}`, s, min, max));
  }

  dtype(name: string): DType | undefined {
    const v = this.str(name);
    if (v === undefined) return undefined;
    if (!(DTYPES as readonly string[]).includes(v)) throw new UsageError(`--${name}: expected one of ${DTYPES.join(', ')}, got ${JSON.stringify(v)}`);
    return v as DType;
  }

  /** "L,R" with integers >= -1 (-1 = unbounded), as flash-attn's window_size. */
  window(name: string): [number, number] | undefined {
    const v = this.str(name);
    if (v === undefined) return undefined;
    const parts = v.split(',');
    if (parts.length !== 2) throw new UsageError(`--${name}: expected L,R (two integers >= -1, -1 = unbounded), got ${JSON.stringify(v)}`);
    return [toInt(`--${name}`, parts[0]!, -1, 2 ** 31 - 1, 'L,R with integers >= -1'), toInt(`--${name}`, parts[1]!, -1, 2 ** 31 - 1, 'L,R with integers >= -1')];
  }
}

function toInt(flag: string, s: string, min: number, max: number, what?: string): number {
  const t = s.trim();
  const x = /^-?\d+$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(x) || x < min || x > max) {
    const expected = what ?? (max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`);
    throw new UsageError(`${flag}: expected ${expected}, got ${JSON.stringify(s)}`);
  }
  return x;
}

export function helpFor(command: string, summary: string, specs: FlagSpecs): string {
  const rows = Object.entries(specs).map(([n, s]) => [`--${n}${s.kind === 'string' ? ` ${s.value ?? 'VALUE'}` : ''}`, s.help] as const);
  const w = Math.max(...rows.map(([a]) => a.length));
  return `flashattn ${command}: ${summary}\n\n${rows.map(([a, b]) => `  ${a.padEnd(w)}  ${b}`).join('\n')}\n`;
}
