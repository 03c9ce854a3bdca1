/** Picks the FFI seam of the runtime we are on (core's runtimeName() is the one branch point). */
import { runtimeName } from '@flashattn/core';
import type { FfiSeam } from './native-library.js';

let seam: Promise<FfiSeam> | undefined;

export function loadFfiSeam(): Promise<FfiSeam> {
  if (!seam) {
    const rt = runtimeName();
    seam =
      rt === 'bun' ? import('./seam-bun.js').then((m) => m.createBunSeam())
      : rt === 'deno' ? import('./seam-deno.js').then((m) => m.createDenoSeam())
      : import('./seam-node.js').then((m) => m.createNodeSeam());
  }
  return seam;
}
