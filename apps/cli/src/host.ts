/**
 * The CLI's one seam to the host: arguments, streams, files, environment, child processes, memory readings.
 * Node, Bun and Deno 2 all implement these `node:` modules, so one file serves the three runtimes; what differs
 * between them (TTY detection, exit) is branched here and nowhere else.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

export function argv(): string[] {
  return process.argv.slice(2);
}

export function env(name: string): string | undefined {
  return process.env[name];
}

export function out(s: string): void {
  process.stdout.write(s);
}

export function err(s: string): void {
  process.stderr.write(s);
}

export function stderrIsTTY(): boolean {
  const deno = (globalThis as { Deno?: { stderr?: { isTerminal?: () => boolean } } }).Deno;
  if (deno?.stderr?.isTerminal) return deno.stderr.isTerminal();
  return Boolean(process.stderr.isTTY);
}

export function terminalColumns(): number {
  return process.stderr.columns || 100;
}

/** Flush and exit; awaiting the stdout drain keeps piped JSON whole. */
export async function exit(code: number): Promise<never> {
  await new Promise<void>((res) => (process.stdout.write('') ? res() : process.stdout.once('drain', () => res())));
  process.exit(code);
}

export function readBytes(path: string): Uint8Array {
  return readFileSync(path);
}

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}

export function writeBytes(path: string, data: Uint8Array | string): void {
  writeFileSync(path, data);
}

export function fileExists(path: string): boolean {
  return existsSync(path);
}

/** A file shipped beside the bundle (apps/cli/dist/main.js) or the sources (apps/cli/src/*.ts): both sit one level down. */
export function shippedFile(rel: string): string {
  return fileURLToPath(new URL(`../${rel}`, import.meta.url));
}

/** Host memory in bytes: resident set and ArrayBuffer/external memory (what a CPU backend's buffers count in). */
export function memory(): { rss: number; external: number } {
  const m = process.memoryUsage();
  return { rss: m.rss, external: (m.arrayBuffers ?? 0) + m.external };
}

export interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Set when the program could not be started at all (ENOENT...). */
  spawnError?: string;
}

/** Run a program to completion, feeding `input` on stdin. */
export function runProgram(cmd: string, args: string[], input = '', timeoutMs = 0): Promise<ChildResult> {
  return new Promise((res) => {
    let stdout = '';
    let stderr = '';
    let done = false;
    const finish = (r: ChildResult) => {
      if (!done) {
        done = true;
        res(r);
      }
    };
    let child;
    try {
      child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: timeoutMs || undefined });
    } catch (e) {
      finish({ code: null, stdout, stderr, spawnError: (e as Error).message });
      return;
    }
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (stdout += d));
    child.stderr.on('data', (d: string) => (stderr += d));
    child.on('error', (e: Error) => finish({ code: null, stdout, stderr, spawnError: e.message }));
    child.on('close', (code: number | null) => finish({ code, stdout, stderr }));
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}
