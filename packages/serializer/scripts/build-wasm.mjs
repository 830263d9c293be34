// Regenerates src/blake3x4-wasm.ts from wasm/blake3x4.wat (`pnpm run build:wasm`).
import { writeFileSync } from 'node:fs';
import { assembleBlake3x4, MODULE_PATH, moduleText } from './wasm.mjs';

const bytes = await assembleBlake3x4();
writeFileSync(MODULE_PATH, moduleText(bytes));
process.stdout.write(`src/blake3x4-wasm.ts: ${bytes.length} bytes of WebAssembly\n`);
