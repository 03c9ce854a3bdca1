/**
 * NumPy .npy files (format versions 1.0, 2.0, 3.0): little-endian float16/float32/float64 in C order.
 * Reading decodes into float64 values; writing emits float32 version 1.0 files. Every defect is an NpyError that
 * names the file and says what was expected and what was found.
 */
import { f16BitsToF32 } from '@flashattn/core';

export class NpyError extends Error {
  constructor(readonly file: string, detail: string) {
    super(`${file}: ${detail}`);
    this.name = 'NpyError';
  }
}

export type NpyDescr = '<f2' | '<f4' | '<f8';

export interface NpyArray {
  readonly shape: readonly number[];
  readonly descr: NpyDescr;
  /** The values, decoded to float64 (exact for every supported dtype). */
  readonly data: Float64Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ITEM: Record<NpyDescr, number> = { '<f2': 2, '<f4': 4, '<f8': 8 };
const DTYPE_NAME: Record<string, string> = {
  '<f2': 'float16', '<f4': 'float32', '<f8': 'float64', '>f2': 'big-endian float16', '>f4': 'big-endian float32',
  '>f8': 'big-endian float64', '<i4': 'int32', '<i8': 'int64', '|u1': 'uint8', '|i1': 'int8', '|b1': 'bool',
  '<i2': 'int16', '<u2': 'uint16', '<u4': 'uint32', '<u8': 'uint64', '<c8': 'complex64', '<c16': 'complex128',
};

function headerField(header: string, key: string): string | undefined {
  const m = new RegExp(`['"]${key}['"]\\s*:\\s*`).exec(header);
  if (!m) return undefined;
  const rest = header.slice(m.index + m[0].length);
  if (rest.startsWith('(')) return rest.slice(0, rest.indexOf(')') + 1);
  const v = /^('[^']*'|"[^"]*"|True|False)/.exec(rest);
  return v?.[1];
}

/** Parse .npy bytes; `file` names the source in errors. */
export function parseNpy(bytes: Uint8Array, file: string): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b))
    throw new NpyError(file, 'not a .npy file (missing the \\x93NUMPY magic)');
  const major = bytes[6]!;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = dv.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new NpyError(file, 'truncated header');
    headerLen = dv.getUint32(8, true);
    start = 12;
  } else throw new NpyError(file, `unsupported .npy format version ${major}.${bytes[7]} (expected 1.0, 2.0 or 3.0)`);
  if (start + headerLen > bytes.length)
    throw new NpyError(file, `truncated header: it declares ${headerLen} bytes, the file has ${bytes.length - start} after the preamble`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen));
  const descrRaw = headerField(header, 'descr');
  const fortranRaw = headerField(header, 'fortran_order');
  const shapeRaw = headerField(header, 'shape');
  if (!descrRaw || !fortranRaw || !shapeRaw) throw new NpyError(file, `malformed header (need descr, fortran_order and shape): ${header.trim()}`);
  let descr = descrRaw.slice(1, -1);
  if (descr === '=f4' || descr === '=f2' || descr === '=f8') descr = `<${descr.slice(1)}`; // native order; x86/arm are little-endian
  if (!(descr in ITEM)) {
    const name = DTYPE_NAME[descr] ?? descr;
    throw new NpyError(file, `wrong dtype: expected little-endian float32, float16 or float64 ('<f4', '<f2', '<f8'), got ${name} (${JSON.stringify(descr)})`);
  }
  if (fortranRaw === 'True')
    throw new NpyError(file, 'Fortran-order (column-major) array; expected C order (save np.ascontiguousarray(x))');
  const dims = shapeRaw.slice(1, -1).split(',').map((s) => s.trim()).filter((s) => s !== '');
  const shape = dims.map((s) => {
    if (!/^\d+$/.test(s)) throw new NpyError(file, `malformed shape ${shapeRaw}`);
    return Number(s);
  });
  const d = descr as NpyDescr;
  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = start + headerLen;
  const want = count * ITEM[d];
  const have = bytes.length - dataStart;
  if (have < want)
    throw new NpyError(file, `truncated data: shape (${shape.join(', ')}) of ${DTYPE_NAME[d]} needs ${want} bytes, the file has ${have}`);
  if (have > want)
    throw new NpyError(file, `${have - want} unexpected bytes after the data of shape (${shape.join(', ')}) ${DTYPE_NAME[d]}`);
  // A copy, aligned at 0 (a Node Buffer's slice() would be a view into a shared pool).
  const raw = new Uint8Array(want);
  raw.set(bytes.subarray(dataStart, dataStart + want));
  const data = new Float64Array(count);
  const rdv = new DataView(raw.buffer);
  if (d === '<f8') for (let i = 0; i < count; i++) data[i] = rdv.getFloat64(i * 8, true);
  else if (d === '<f4') for (let i = 0; i < count; i++) data[i] = rdv.getFloat32(i * 4, true);
  else for (let i = 0; i < count; i++) data[i] = f16BitsToF32(rdv.getUint16(i * 2, true));
  return { shape, descr: d, data };
}

/** A float32 .npy (version 1.0, C order) holding `data` with `shape`. */
export function encodeNpyF32(shape: readonly number[], data: ArrayLike<number>): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`encodeNpyF32: shape (${shape.join(', ')}) holds ${count} values, got ${data.length}`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // Pad so that magic + version + length + header is a multiple of 64, ending in '\n' (as NumPy writes it).
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const out = new Uint8Array(total + count * 4);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  const dv = new DataView(out.buffer);
  dv.setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  for (let i = 0; i < count; i++) dv.setFloat32(total + i * 4, data[i]!, true);
  return out;
}
