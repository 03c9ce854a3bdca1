// Portability matrix: runtime (node, bun, deno) x backend -> pass / fail / unavailable: reason, from the reports that
// scripts/test.sh had `flashattn conformance --report` write under DIR. Exits 1 if any runtime did not report, any
// case failed or errored, or the reference did not pass every case on every runtime.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? 'out/test';
const RUNTIMES = ['node', 'bun', 'deno'];
const BACKENDS = ['reference', 'webgpu', 'cuda', 'rocm'];
const problems = [];

function read(rt, ext) {
  const f = join(dir, `conformance-${rt}.${ext}`);
  return existsSync(f) ? readFileSync(f, 'utf8') : undefined;
}

function shorten(s, n = 110) {
  return s.length > n ? `${s.slice(0, n - 3)}...` : s;
}

const cells = {}; // rt -> backend -> { short, long }
const versions = {};
for (const rt of RUNTIMES) {
  cells[rt] = {};
  const text = read(rt, 'json');
  const exit = read(rt, 'exit')?.trim();
  let rep;
  try {
    rep = text ? JSON.parse(text) : undefined;
  } catch {
    rep = undefined;
  }
  if (!rep) {
    const why = (read(rt, 'stderr') ?? '').trim().split('\n').filter(Boolean).pop() ?? 'no output';
    for (const b of BACKENDS) cells[rt][b] = { short: 'not run', long: `not run: flashattn exited ${exit ?? '?'} under ${rt} before reporting: ${why}` };
    problems.push(`${rt}: conformance did not report (exit ${exit ?? '?'})`);
    continue;
  }
  versions[rt] = rep.runtime;
  const partial = rep.complete === false ? ` [run stopped after ${rep.casesDone} of ${rep.cases} cases: exit ${exit ?? '?'}]` : '';
  if (partial) problems.push(`${rt}: conformance stopped after ${rep.casesDone} of ${rep.cases} cases (exit ${exit ?? '?'}${exit === '124' ? ', timed out' : ''})`);
  const names = [...new Set([...BACKENDS, ...rep.backends.map((b) => b.name)])];
  for (const b of names) {
    const info = rep.backends.find((x) => x.name === b);
    if (!info) {
      cells[rt][b] = { short: 'not checked', long: 'not checked (not in this run)' };
      continue;
    }
    if (!info.available) {
      cells[rt][b] = { short: 'unavailable', long: `unavailable: ${info.reason}` };
      continue;
    }
    const rows = rep.results.filter((r) => r.backend === b);
    const count = (s) => rows.filter((r) => r.status === s).length;
    const [pass, fail, error, unsup] = ['pass', 'fail', 'error', 'unsupported'].map(count);
    const unsupReasons = [...new Set(rows.filter((r) => r.status === 'unsupported').map((r) => r.reason))];
    const tail = unsup ? `; ${unsup} unsupported: ${unsupReasons.join(' | ')}` : '';
    if (fail + error > 0) {
      const first = rows.find((r) => r.status === 'fail' || r.status === 'error');
      cells[rt][b] = { short: `FAIL ${fail + error}/${rows.length}`, long: `FAIL: ${fail} fail, ${error} error of ${rows.length} cases (first: ${first.reason})${tail}${partial}` };
      problems.push(`${rt} x ${b}: ${fail} failed, ${error} errors`);
    } else if (pass === 0) {
      cells[rt][b] = { short: 'unsupported', long: `every case unsupported: ${unsupReasons.join(' | ')}${partial}` };
    } else {
      cells[rt][b] = { short: `pass ${pass}/${rows.length}${partial ? ' (partial)' : ''}`, long: `pass (${pass} of ${rows.length} cases on ${info.device})${tail}${partial}` };
    }
    if (b === 'reference' && !partial && (pass !== rows.length || rows.length === 0)) problems.push(`${rt}: the reference did not pass every case`);
  }
  if (!rep.backends.some((x) => x.name === 'reference')) problems.push(`${rt}: the reference was not checked`);
  if (exit !== '0' && !problems.some((p) => p.startsWith(rt))) problems.push(`${rt}: flashattn conformance exited ${exit}`);
}

const backends = [...new Set(RUNTIMES.flatMap((rt) => Object.keys(cells[rt])))];
const header = ['runtime', ...backends];
const body = RUNTIMES.map((rt) => [versions[rt] ?? rt, ...backends.map((b) => cells[rt][b]?.short ?? '-')]);
const w = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
const line = (r) => r.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd();
console.log('portability matrix: runtime x backend (quick conformance set; pass n/m = cases passed / cases run)\n');
console.log(line(header));
console.log(w.map((n) => '-'.repeat(n)).join('  '));
for (const r of body) console.log(line(r));
console.log('');
for (const rt of RUNTIMES)
  for (const b of backends) if (cells[rt][b]) console.log(`${rt} x ${b}: ${shorten(cells[rt][b].long, 400)}`);
console.log('');
if (problems.length) {
  console.log(`portability: FAILED: ${problems.join('; ')}`);
  process.exit(1);
}
console.log('portability: every runtime reported; no case failed; the reference passed everywhere');
