/**
 * Splitting a problem's sequences into dispatch chunks so that each bound range of each tensor fits the device's
 * maxStorageBufferBindingSize. A chunk is a run of whole sequences; a single sequence too large to bind is
 * reported (never truncated).
 */

/** One tensor as rows (cumulative offsets) of `rowElems` elements of `bytesPerElem` bytes. */
export interface RowTensor {
  readonly name: string;
  readonly cu: Int32Array;
  readonly rowElems: number;
  readonly bytesPerElem: number;
}

export interface Chunk {
  readonly b0: number;
  readonly b1: number;
}

export interface BindRange {
  readonly offset: number;
  readonly size: number;
  /** Element index (in the binding) of the chunk's first row. */
  readonly shift: number;
}

export const ceilTo = (x: number, m: number) => Math.ceil(x / m) * m;

/** Bytes of a device buffer holding n elements of a dtype (16-bit packed in u32 words), padded to 16. */
export function bufferBytes(n: number, bytesPerElem: number): number {
  return Math.max(16, ceilTo(ceilTo(n * bytesPerElem, 4), 16));
}

export function bindRange(t: RowTensor, c: Chunk, align: number, bufferSize: number): BindRange {
  const start = t.cu[c.b0]! * t.rowElems * t.bytesPerElem;
  const end = t.cu[c.b1]! * t.rowElems * t.bytesPerElem;
  if (end <= start) return { offset: 0, size: Math.min(bufferSize, 16), shift: 0 };
  const offset = Math.floor(start / align) * align;
  const size = Math.min(bufferSize - offset, ceilTo(end, 16) - offset);
  return { offset, size, shift: (start - offset) / t.bytesPerElem };
}

function spanBytes(t: RowTensor, b0: number, b1: number, align: number): number {
  const start = t.cu[b0]! * t.rowElems * t.bytesPerElem;
  const end = t.cu[b1]! * t.rowElems * t.bytesPerElem;
  if (end <= start) return 0;
  return ceilTo(end, 16) - Math.floor(start / align) * align;
}

/** Greedy chunks of whole sequences; a string names what cannot be split. */
export function planChunks(
  batch: number, tensors: readonly RowTensor[], maxBinding: number, align: number, maxChunkBatches: number,
): Chunk[] | string {
  const chunks: Chunk[] = [];
  let b0 = 0;
  while (b0 < batch) {
    for (const t of tensors) {
      const one = spanBytes(t, b0, b0 + 1, align);
      if (one > maxBinding)
        return `${t.name} of sequence ${b0} spans ${one} bytes > maxStorageBufferBindingSize ${maxBinding} of this adapter (split the sequence or use fewer heads)`;
    }
    let b1 = b0 + 1;
    while (b1 < batch && b1 - b0 < maxChunkBatches && tensors.every((t) => spanBytes(t, b0, b1 + 1, align) <= maxBinding)) b1++;
    chunks.push({ b0, b1 });
    b0 = b1;
  }
  return chunks;
}

/** Linear word ranges for the fill and pack kernels: starts aligned to 64 words (256 bytes). */
export function wordChunks(words: number, maxWordsPerBinding: number): { w0: number; n: number }[] {
  const step = Math.max(64, Math.floor(maxWordsPerBinding / 64) * 64);
  const out: { w0: number; n: number }[] = [];
  for (let w0 = 0; w0 < words; w0 += step) out.push({ w0, n: Math.min(step, words - w0) });
  return out;
}
