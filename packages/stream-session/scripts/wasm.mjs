// wasm/ghash.wat and the module that carries its bytes, src/ghash-wasm.ts (the assembling is
// shared with the serializer's kernel: tooling/wasm-module.mjs).
import wabtInit from 'wabt';
import { assembleWat, wasmModuleText } from '../../../tooling/wasm-module.mjs';

export const WAT_PATH = new URL('../wasm/ghash.wat', import.meta.url);
export const MODULE_PATH = new URL('../src/ghash-wasm.ts', import.meta.url);

/** The bytes wasm/ghash.wat assembles to. */
export const assembleGhash = () => assembleWat(wabtInit, WAT_PATH);

/** The text of src/ghash-wasm.ts for `bytes`. */
export const moduleText = (bytes) => wasmModuleText('ghash.wat', 'GHASH_WASM_BASE64', bytes);
