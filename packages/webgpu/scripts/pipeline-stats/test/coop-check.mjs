// Checks the binary that the Tint path makes from test/coop-matrix.dump.log (dawn-dump.mjs --split, spirv-as 2023.1,
// dawn-dump.mjs --patch) word by word, independently of dawn-dump's tables:
//   - one instruction in the binary per instruction line of BASE.spvasm (none merged into the one before it, which
//     is what SPIRV-Tools' raw `!<opword> ...` form does after an OpAccessChain or an OpLoad without memory operand);
//   - OpCapability CooperativeMatrixKHR is [0x00020011, 6022], OpCapability ReplicatedCompositesEXT [0x00020011, 6024];
//   - each SPV_KHR_cooperative_matrix instruction is exactly the words of EXPECT below: (word count << 16) | opcode
//     written out in hex, then the operands in binary order ([result type], result, operands), with the enumerants
//     as their values, per SPIR-V Headers' spirv.core.grammar.json (OpTypeCooperativeMatrixKHR 4456, Load 4457,
//     Store 4458, MulAdd 4459, Length 4460; MemoryAccess None 0, Aligned 0x2, MakePointerAvailable 0x8,
//     MakePointerVisible 0x10, NonPrivatePointer 0x20; CooperativeMatrixOperands NoneKHR 0, MatrixA/B/C/Result
//     SignedComponentsKHR 0x1/0x2/0x4/0x8, SaturatingAccumulationKHR 0x10; and SPV_EXT_replicated_composites'
//     OpConstantCompositeReplicateEXT 4461, OpCompositeConstructReplicateEXT 4463);
//   - no placeholder (OpGroupDecorate) is left and the id bound covers every id.
// Ids: numeric ones keep their number (--preserve-numeric-ids, checked); named ones are looked up where the binary
// defines them (the instruction of the same line: result at word 1 for types, labels and OpExtInstImport, else 2).
// Prints the decoded cooperative-matrix instructions. Usage: node coop-check.mjs BASE.spvasm FILE.spv
import { readFileSync } from 'node:fs';

const [textFile, spvFile] = process.argv.slice(2);
const EXPECT = [
  // OpTypeCooperativeMatrixKHR %result %ComponentType %Scope %Rows %Columns %Use: 7 words
  [0x00071168, '%22', '%half', '%uint_3', '%uint_16', '%uint_16', '%uint_0'],
  [0x00071168, '%25', '%half', '%uint_3', '%uint_16', '%uint_16', '%uint_1'],
  [0x00071168, '%coopmat_float_acc', '%float', '%uint_3', '%uint_16', '%uint_16', '%uint_2'],
  [0x00071168, '%39', '%uchar', '%uint_3', '%uint_16', '%uint_16', '%uint_0'],
  [0x00071168, '%40', '%uchar', '%uint_3', '%uint_16', '%uint_16', '%uint_1'],
  [0x00071168, '%41', '%int', '%uint_3', '%uint_16', '%uint_16', '%uint_2'],
  // OpConstantCompositeReplicateEXT (4461) %type %result %Value
  [0x0004116d, '%coopmat_float_acc', '%80', '%float_0_5'],
  // OpCooperativeMatrixLoadKHR %type %result %Pointer %MemoryLayout %Stride NonPrivatePointer(0x20)
  [0x00071169, '%22', '%57', '%56', '%uint_0', '%uint_16', 0x20],
  [0x00071169, '%25', '%59', '%58', '%uint_1', '%uint_16', 0x20],
  // OpCooperativeMatrixMulAddKHR %type %result %A %B %C NoneKHR(0)
  [0x0007116b, '%coopmat_float_acc', '%61', '%57', '%59', '%60', 0],
  // OpCooperativeMatrixStoreKHR %Pointer %Object %MemoryLayout %Stride NonPrivatePointer
  [0x0006116a, '%65', '%66', '%uint_0', '%uint_16', 0x20],
  // ... Aligned|NonPrivatePointer (0x22), alignment 16
  [0x0007116a, '%67', '%64', '%uint_1', '%uint_16', 0x22, 16],
  // Load ... MakePointerVisible|NonPrivatePointer (0x30) %scope
  [0x00081169, '%coopmat_float_acc', '%68', '%67', '%uint_1', '%uint_16', 0x30, '%uint_2'],
  // Store ... MakePointerAvailable|NonPrivatePointer (0x28) %scope
  [0x0007116a, '%67', '%68', '%uint_0', '%uint_16', 0x28, '%uint_2'],
  // OpCooperativeMatrixLengthKHR %type %result %Type
  [0x0004116c, '%uint', '%69', '%coopmat_float_acc'],
  // Load without memory operand; then without stride either
  [0x00061169, '%39', '%71', '%70', '%uint_0', '%uint_16'],
  [0x00051169, '%40', '%72', '%70', '%uint_1'],
  // MulAdd with all four signedness bits (0xf); without operands; SaturatingAccumulationKHR (0x10)
  [0x0007116b, '%41', '%73', '%71', '%72', '%42', 0xf],
  [0x0006116b, '%41', '%78', '%71', '%72', '%73'],
  [0x0007116b, '%41', '%79', '%71', '%72', '%78', 0x10],
  // OpCompositeConstructReplicateEXT (4463) %type %result %Value
  [0x0004116f, '%coopmat_float_acc', '%81', '%float_0_5'],
];
const COOP = new Map([[4456, 'OpTypeCooperativeMatrixKHR'], [4457, 'OpCooperativeMatrixLoadKHR'], [4458, 'OpCooperativeMatrixStoreKHR'], [4459, 'OpCooperativeMatrixMulAddKHR'], [4460, 'OpCooperativeMatrixLengthKHR'],
  [4461, 'OpConstantCompositeReplicateEXT'], [4462, 'OpSpecConstantCompositeReplicateEXT'], [4463, 'OpCompositeConstructReplicateEXT']]);

const fail = (m) => { console.error(`coop-check: ${m}`); process.exit(1); };
const lines = readFileSync(textFile, 'utf8').split('\n').map((l) => l.replace(/;.*$/, '').trim()).filter((l) => l !== '');
const src = lines.map((l) => { const m = /^(?:(%[\w.-]+)\s*=\s*)?(Op\w+)(.*)$/.exec(l); if (!m) fail(`not an instruction: ${l}`); return { result: m[1], op: m[2], line: l }; });
const b = readFileSync(spvFile);
const w = new Uint32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
if (w[0] !== 0x07230203) fail('no SPIR-V magic number');
const insts = [];
for (let i = 5; i < w.length; ) {
  const len = w[i] >>> 16;
  if (len === 0 || i + len > w.length) fail(`truncated instruction at word ${i}`);
  insts.push(Array.from(w.subarray(i, i + len)));
  i += len;
}
if (insts.length !== src.length) fail(`${insts.length} instructions in the binary, ${src.length} lines (an instruction swallowed the next?)`);
// Names -> ids from the binary.
const ids = new Map();
const resultAtWord1 = (op) => op.startsWith('OpType') || op === 'OpLabel' || op === 'OpExtInstImport' || op === 'OpString';
src.forEach((s, k) => {
  if (!s.result) return;
  const id = insts[k][resultAtWord1(s.op) ? 1 : 2];
  if (/^%\d+$/.test(s.result) && id !== Number(s.result.slice(1))) fail(`${s.result} was assembled as %${id} (numeric ids not preserved?)`);
  ids.set(s.result, id);
});
let bound = 0;
for (const id of ids.values()) bound = Math.max(bound, id);
if (w[3] <= bound) fail(`id bound ${w[3]} <= largest id ${bound}`);
const capIdx = src.findIndex((s) => s.line === 'OpCapability CooperativeMatrixKHR');
if (capIdx < 0 || insts[capIdx].join() !== [0x00020011, 6022].join()) fail(`OpCapability CooperativeMatrixKHR: ${JSON.stringify(insts[capIdx])}`);
const repIdx = src.findIndex((s) => s.line === 'OpCapability ReplicatedCompositesEXT');
if (repIdx < 0 || insts[repIdx].join() !== [0x00020011, 6024].join()) fail(`OpCapability ReplicatedCompositesEXT: ${JSON.stringify(insts[repIdx])}`);
let n = 0;
src.forEach((s, k) => {
  const words = insts[k];
  const op = words[0] & 0xffff;
  if (op === 74) fail(`line ${k}: a placeholder (OpGroupDecorate) is left: ${s.line}`);
  if (!COOP.has(op) && ![...COOP.values()].includes(s.op)) return;
  if (COOP.get(op) !== s.op) fail(`line ${k}: opcode ${op} for ${s.line}`);
  const e = EXPECT[n++];
  if (!e) fail(`more cooperative-matrix instructions than expected: ${s.line}`);
  const want = e.map((x) => (typeof x === 'number' ? x : ids.get(x) ?? fail(`no id for ${x}`)));
  if (want.join() !== words.join()) fail(`${s.line}\n  binary   ${words.map((x) => x.toString(16)).join(' ')}\n  expected ${want.map((x) => x.toString(16)).join(' ')}`);
  console.log(`${s.op.padEnd(29)} words ${words.length}: ${words.map((x, j) => (j === 0 ? `0x${x.toString(16).padStart(8, '0')}` : String(x))).join(' ')}`);
});
if (n !== EXPECT.length) fail(`${n} cooperative-matrix instructions, ${EXPECT.length} expected`);
console.log(`coop-check: ${insts.length} instructions for ${src.length} lines; ${n} cooperative-matrix / replicate instructions exact; capabilities 6022, 6024; bound ${w[3]}`);
