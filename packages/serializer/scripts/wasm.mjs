// wasm/blake3x4.wat and the module that carries its bytes, src/blake3x4-wasm.ts (the assembling
// is shared with stream-session's kernel: tooling/wasm-module.mjs).
import wabtInit from 'wabt';
import { assembleWat, wasmModuleText } from '../../../tooling/wasm-module.mjs';

export const WAT_PATH = new URL('../wasm/blake3x4.wat', import.meta.url);
export const MODULE_PATH = new URL('../src/blake3x4-wasm.ts', import.meta.url);

/** The bytes wasm/blake3x4.wat assembles to (SIMD, multi-value results, bulk memory). */
export const assembleBlake3x4 = () => assembleWat(wabtInit, WAT_PATH, { simd: true, multi_value: true, bulk_memory: true });

/** The text of src/blake3x4-wasm.ts for `bytes`. */
export const moduleText = (bytes) => wasmModuleText('blake3x4.wat', 'BLAKE3X4_WASM_BASE64', bytes);
