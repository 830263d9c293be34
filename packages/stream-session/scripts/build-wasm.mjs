// Regenerates src/ghash-wasm.ts from wasm/ghash.wat (`pnpm run build:wasm`).
import { writeFileSync } from 'node:fs';
import { assembleGhash, MODULE_PATH, moduleText } from './wasm.mjs';

const bytes = await assembleGhash();
writeFileSync(MODULE_PATH, moduleText(bytes));
process.stdout.write(`src/ghash-wasm.ts: ${bytes.length} bytes of WebAssembly\n`);
