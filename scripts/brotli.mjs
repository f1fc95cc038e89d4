// The one brotli setting behind every size the project reports: the
// precompressed assets and their budgets (assets.mjs) and the bundle's
// breakdown (wasm-breakdown).
import { brotliCompressSync, constants } from 'node:zlib';

export const brotli = (bytes) =>
  brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length } });
