/**
 * flashattn: the command-line face of the library. Subcommands: backends, conformance, run, bench.
 * Exit status: 0 ok; 1 a check failed or a backend/device error; 2 bad flags, values or input files;
 * 3 conformance verified nothing (every backend unavailable or unsupported).
 */
import { FlashAttnError, ValidationError } from '@flashattn/core';
import { Flags, helpFor, parseFlags, UsageError, type FlagSpecs } from './args.js';
import { backendsCommand, BACKENDS_FLAGS } from './backends-command.js';
import { bench, BENCH_FLAGS } from './bench.js';
import { conformance, CONFORMANCE_FLAGS } from './conformance.js';
import { argv, env, err, exit, out } from './host.js';
import { NpyError } from './npy.js';
import { run, RUN_FLAGS } from './run.js';

interface Command {
  summary: string;
  flags: FlagSpecs;
  run: (f: Flags) => Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  backends: { summary: 'list every registered backend: available or why not, device, dtypes, features', flags: BACKENDS_FLAGS, run: backendsCommand },
  conformance: {
    summary: 'cross-check backends against the float64 oracle on a case matrix (quick set by default, --full for the whole grid)',
    flags: CONFORMANCE_FLAGS, run: conformance,
  },
  run: { summary: 'attention (and gradients) on .npy tensors', flags: RUN_FLAGS, run },
  bench: { summary: 'time forward and forward+backward over a seqlen sweep; TFLOP/s, memory, SVG chart', flags: BENCH_FLAGS, run: bench },
};

function usage(): string {
  const w = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return (
    'usage: flashattn <command> [flags]   (flashattn <command> --help for its flags)\n\n' +
    Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(w)}  ${c.summary}`).join('\n') +
    '\n\nRuns unchanged under node, bun and deno: node dist/main.js | bun dist/main.js | deno run -A dist/main.js\n'
  );
}

async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    out(usage());
    return name === undefined ? 2 : 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) throw new UsageError(`${JSON.stringify(name)}: unknown command (commands: ${Object.keys(COMMANDS).join(', ')})`);
  const f = new Flags(parseFlags(name, cmd.flags, rest));
  if (f.bool('help')) {
    out(helpFor(name, cmd.summary, cmd.flags));
    return 0;
  }
  if (f.parsed.positionals.length) throw new UsageError(`${JSON.stringify(f.parsed.positionals[0])}: unexpected argument for \`flashattn ${name}\` (it takes only flags)`);
  return cmd.run(f);
}

function exitCodeFor(e: unknown): number {
  if (e instanceof UsageError || e instanceof ValidationError || e instanceof NpyError) return 2;
  return 1;
}

let code: number;
try {
  code = await main(argv());
} catch (e) {
  code = exitCodeFor(e);
  const msg = e instanceof Error ? e.message : String(e);
  const known = e instanceof UsageError || e instanceof FlashAttnError || e instanceof NpyError;
  err(`flashattn: ${known ? '' : 'internal error: '}${msg.split('\n')[0]}\n`);
  if (env('FLASHATTN_DEBUG') && e instanceof Error) err(`${e.stack}\n`);
}
await exit(code);
