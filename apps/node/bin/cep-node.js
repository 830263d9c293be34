#!/usr/bin/env node
// The `cep-node` binary: runs the bundled peer, dist/cep-node.cjs (made by `pnpm build` or the
// root `demo` script), with the V8 code cache made beside it, dist/cep-node.cjs.v8cache: V8 then
// reads the compiled functions instead of parsing and compiling 1.5 MB of JavaScript at every
// start (most of a start's time; see the README, "Startup"). A missing cache, or one V8 refuses
// (another Node version), costs only that time. This launcher is committed so the package's bin
// always exists, even before a build; without the bundle it says how to make it.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

const bundle = fileURLToPath(new URL('../dist/cep-node.cjs', import.meta.url));
if (!existsSync(bundle)) {
  process.stderr.write('cep-node is not built yet: run `npx --yes pnpm@10.34.8 build` at the repository root (or `node apps/node/scripts/bundle.mjs`)\n');
  process.exit(1);
}
const cacheFile = `${bundle}.v8cache`;
let cachedData;
try {
  cachedData = readFileSync(cacheFile);
} catch {
  // no cache yet: compile as usual
}
// The CommonJS wrapper node itself puts around a module, plus `__cepImport`: V8 drops a cached
// script's dynamic-import hook, so `import()` of handler modules and plug-ins comes from here.
// The cache was made with the same text.
const script = new Script(`(function (exports, require, module, __filename, __dirname, __cepImport) {${readFileSync(bundle, 'utf8')}\n})`, {
  filename: bundle,
  ...(cachedData !== undefined ? { cachedData } : {}),
});
// scripts/bundle.mjs sets this on one warm-up run: the cache then holds what a start compiles.
const writeCache = process.env['CEP_NODE_WRITE_CODE_CACHE'];
if (writeCache !== undefined) process.once('exit', () => writeFileSync(writeCache, script.createCachedData()));
const module = { exports: {} };
script.runInThisContext()(module.exports, createRequire(bundle), module, bundle, dirname(bundle), (specifier) => import(specifier));
