#!/usr/bin/env node
// Builds build/flashattn_cuda.node: the kernels (csrc/kernels, listed in sources.txt) with nvcc, one process per
// file in parallel, and the node-addon-api host code (csrc/addon) with the host C++ compiler, linked against the
// static CUDA runtime so that loading needs no driver (probe() then reports "no CUDA driver").
// Without nvcc it explains why and exits 0: the backend is then unavailable with that reason.
// Incremental: an object is rebuilt when its source, a header, or its command line changed.
// Env: NVCC, CUDA_HOME, CXX, FLASHATTN_CUDA_GENCODE (replaces the default -gencode flags), FLASHATTN_NODE_HEADERS,
//      FLASHATTN_CUDA_JOBS.
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const csrc = path.join(pkg, 'csrc');
const kernelsDir = path.join(csrc, 'kernels');
const addonDir = path.join(csrc, 'addon');
const buildDir = path.join(pkg, 'build');
const objDir = path.join(buildDir, 'obj');
const output = path.join(buildDir, 'flashattn_cuda.node');
const statusFile = path.join(buildDir, 'addon-status.json');
const t0 = Date.now();

const DEFAULT_GENCODE = [
  '-gencode', 'arch=compute_80,code=sm_80',
  '-gencode', 'arch=compute_90a,code=sm_90a',
  '-gencode', 'arch=compute_80,code=compute_80', // PTX: JIT-compiled on newer GPUs
];

function log(msg) {
  console.log(`[flashattn/cuda build] ${msg}`);
}

function writeStatus(status) {
  fs.mkdirSync(buildDir, { recursive: true });
  fs.writeFileSync(statusFile, JSON.stringify({ ...status, date: new Date().toISOString() }, null, 2) + '\n');
}

function which(cmd) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const f = path.join(dir, cmd);
    try { fs.accessSync(f, fs.constants.X_OK); return f; } catch { /* next */ }
  }
  return null;
}

function findNvcc() {
  if (process.env.NVCC) return process.env.NVCC;
  for (const home of [process.env.CUDA_HOME, process.env.CUDA_PATH]) {
    if (home && fs.existsSync(path.join(home, 'bin', 'nvcc'))) return path.join(home, 'bin', 'nvcc');
  }
  return which('nvcc') ?? (fs.existsSync('/usr/local/cuda/bin/nvcc') ? '/usr/local/cuda/bin/nvcc' : null);
}

/** The toolkit root that holds include/cuda_runtime.h and libcudart_static.a (nvcc may be a symlink). */
function cudaRoot(nvcc) {
  const candidates = [process.env.CUDA_HOME, path.resolve(path.dirname(fs.realpathSync(nvcc)), '..'), '/usr/local/cuda'];
  for (const c of candidates) if (c && fs.existsSync(path.join(c, 'include', 'cuda_runtime.h'))) return c;
  throw new Error(`cuda_runtime.h not found next to ${nvcc}; set CUDA_HOME`);
}

function cudaLibDir(root) {
  for (const d of ['lib64', 'lib', 'targets/x86_64-linux/lib', 'targets/sbsa-linux/lib'])
    if (fs.existsSync(path.join(root, d, 'libcudart_static.a'))) return path.join(root, d);
  throw new Error(`libcudart_static.a not found under ${root}`);
}

function nodeHeaders() {
  const candidates = [
    process.env.FLASHATTN_NODE_HEADERS,
    '/usr/include/node',
    path.resolve(path.dirname(process.execPath), '..', 'include', 'node'),
  ];
  for (const c of candidates) if (c && fs.existsSync(path.join(c, 'node_api.h'))) return c;
  throw new Error(`Node-API headers (node_api.h) not found in ${candidates.filter(Boolean).join(', ')}; set FLASHATTN_NODE_HEADERS`);
}

function addonApiHeaders() {
  const require = createRequire(path.join(pkg, 'package.json'));
  return path.dirname(require.resolve('node-addon-api/package.json'));
}

/** Whitespace-separated tokens of a flags file, '#' starts a comment. */
function readTokens(file) {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean).flatMap((l) => l.split(/\s+/));
}

function headersIn(dir, exts) {
  if (!fs.existsSync(dir)) return [];
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && exts.some((x) => e.name.endsWith(x))) out.push(path.join(e.parentPath ?? e.path, e.name));
  }
  return out;
}

function mtime(f) {
  try { return fs.statSync(f).mtimeMs; } catch { return -1; }
}

function run(cmd, args, logFile) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d) => { text += d; });
    child.stderr.on('data', (d) => { text += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      if (logFile) fs.writeFileSync(logFile, text);
      if (code === 0) resolve(text);
      else reject(new Error(`${path.basename(cmd)} failed (exit ${code}):\n${cmd} ${args.join(' ')}\n${text}`));
    });
  });
}

/** One compile job: skipped when the object is newer than its inputs and was made by the same command. */
function job(name, src, obj, cmd, args, deps) {
  const stampFile = `${obj}.cmd`;
  const stamp = createHash('sha256').update([cmd, ...args].join('\0')).digest('hex');
  const stale =
    !fs.existsSync(obj) ||
    (fs.existsSync(stampFile) ? fs.readFileSync(stampFile, 'utf8') : '') !== stamp ||
    [src, ...deps].some((d) => mtime(d) > mtime(obj));
  return {
    name, obj, stale,
    async go() {
      const t = Date.now();
      await run(cmd, args, `${obj}.log`);
      fs.writeFileSync(stampFile, stamp);
      log(`compiled ${name} in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    },
  };
}

async function runAll(jobs, parallel) {
  const queue = jobs.filter((j) => j.stale);
  const skipped = jobs.length - queue.length;
  if (skipped) log(`${skipped} object(s) up to date`);
  const workers = Array.from({ length: Math.min(parallel, queue.length) }, async () => {
    for (let j = queue.shift(); j; j = queue.shift()) await j.go();
  });
  await Promise.all(workers);
}

async function main() {
  const nvcc = findNvcc();
  if (!nvcc) {
    const reason = 'addon not built: nvcc not found (install the CUDA toolkit, or set NVCC / CUDA_HOME, then rebuild)';
    log(`${reason}; the cuda backend will be unavailable. Not an error.`);
    if (!fs.existsSync(output)) writeStatus({ built: false, reason });
    return;
  }
  const root = cudaRoot(nvcc);
  const libDir = cudaLibDir(root);
  const cxx = process.env.CXX ?? which('g++') ?? which('c++') ?? 'c++';
  const nvccVersion = execFileSync(nvcc, ['--version'], { encoding: 'utf8' }).trim().split('\n').pop();
  log(`nvcc ${nvcc} (${nvccVersion}); host compiler ${cxx}`);
  fs.mkdirSync(objDir, { recursive: true });

  // Kernels: the kernels engineer lists sources and flags next to them.
  const sourcesFile = path.join(kernelsDir, 'sources.txt');
  const kernelSources = readTokens(sourcesFile).map((s) => path.resolve(kernelsDir, s));
  for (const s of kernelSources) if (!fs.existsSync(s)) throw new Error(`${sourcesFile} lists ${s}, which does not exist`);
  const kernelFlags = readTokens(path.join(kernelsDir, 'nvcc-flags.txt'));
  const hasArch = kernelFlags.some((f) => f === '-gencode' || f.startsWith('-gencode=') || f.startsWith('-arch') || f.startsWith('--gpu-architecture'));
  const gencode = process.env.FLASHATTN_CUDA_GENCODE ? process.env.FLASHATTN_CUDA_GENCODE.split(/\s+/) : hasArch ? [] : DEFAULT_GENCODE;
  const rdc = kernelFlags.some((f) => f === '-rdc=true' || f === '--relocatable-device-code=true' || f === '-dc');
  const kernelDeps = [...headersIn(kernelsDir, ['.h', '.cuh', '.hpp', '.inl']), path.join(csrc, 'flash_params.h')];
  const jobs = [];
  const threads = String(Math.max(1, Math.min(4, [...gencode, ...kernelFlags].filter((g) => g === '-gencode').length || 3)));
  for (const src of kernelSources) {
    const rel = path.relative(kernelsDir, src).replace(/[\\/]/g, '_');
    const obj = path.join(objDir, `kernel_${rel}.o`);
    const defaults = [
      ...(kernelFlags.some((f) => f.startsWith('-std')) ? [] : ['-std=c++17']),
      ...(kernelFlags.some((f) => /^-O\d$/.test(f)) ? [] : ['-O3']),
      ...(kernelFlags.includes('-fPIC') ? [] : ['-Xcompiler', '-fPIC']),
    ];
    const args = ['-c', src, '-o', obj, ...defaults, '-t', threads, ...gencode, ...kernelFlags, '-Xptxas', '-v', `-I${csrc}`, `-I${kernelsDir}`];
    jobs.push(job(path.relative(pkg, src), src, obj, nvcc, args, kernelDeps));
  }

  // Host side: node-addon-api with C++ exceptions, compiled straight with the host compiler.
  const napiDir = addonApiHeaders();
  const nodeInc = nodeHeaders();
  const addonSources = fs.readdirSync(addonDir).filter((f) => f.endsWith('.cc')).map((f) => path.join(addonDir, f));
  const addonDeps = [...headersIn(addonDir, ['.h']), path.join(csrc, 'flash_params.h'), path.join(napiDir, 'napi.h'), path.join(napiDir, 'napi-inl.h')];
  const cxxFlags = [
    '-std=c++17', '-O2', '-fPIC', '-fvisibility=hidden', '-fexceptions', '-Wall', '-Wextra', '-Wno-unused-parameter',
    '-DNAPI_VERSION=8', '-DNAPI_CPP_EXCEPTIONS', '-DNODE_ADDON_API_DISABLE_DEPRECATED',
    `-I${napiDir}`, `-I${nodeInc}`, `-I${path.join(root, 'include')}`, `-I${csrc}`,
  ];
  for (const src of addonSources) {
    const obj = path.join(objDir, `addon_${path.basename(src, '.cc')}.o`);
    jobs.push(job(path.relative(pkg, src), src, obj, cxx, ['-c', src, '-o', obj, ...cxxFlags], addonDeps));
  }

  const parallel = Number(process.env.FLASHATTN_CUDA_JOBS) || Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
  // Host objects first: they take seconds, kernels take minutes.
  await runAll([...jobs.filter((j) => !j.name.includes('kernels')), ...jobs.filter((j) => j.name.includes('kernels'))], parallel);

  const objs = jobs.map((j) => j.obj);
  const kernelObjs = objs.filter((o) => path.basename(o).startsWith('kernel_'));
  if (rdc && kernelObjs.length) {
    const dlink = path.join(objDir, 'device_link.o');
    await run(nvcc, ['-dlink', '-Xcompiler', '-fPIC', ...gencode, ...kernelObjs, '-o', dlink]);
    objs.push(dlink);
  }
  const linkArgs = [
    '-shared', '-o', output, ...objs, `-L${libDir}`, '-lcudart_static', '-ldl', '-lpthread', '-lrt',
    '-static-libstdc++', '-static-libgcc',
  ];
  const inputsNewer = objs.some((o) => mtime(o) > mtime(output));
  if (inputsNewer || !fs.existsSync(output)) {
    await run(cxx, linkArgs);
    log(`linked ${path.relative(pkg, output)}`);
  } else {
    log(`${path.relative(pkg, output)} up to date`);
  }
  const kernels = kernelSources.map((s) => path.relative(pkg, s));
  if (!kernels.length) log(`WARNING: no kernel sources (${path.relative(pkg, sourcesFile)} missing or empty): the addon loads, but the backend reports the kernels missing`);
  writeStatus({ built: true, kernels, nvcc: nvccVersion, gencode: [...gencode, ...kernelFlags.filter((f, i, a) => f.startsWith('-gencode') || a[i - 1] === '-gencode')] });
  log(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

main().catch((e) => {
  console.error(`[flashattn/cuda build] FAILED: ${e?.message ?? e}`);
  process.exit(1);
});
