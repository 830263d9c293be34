#!/usr/bin/env node
/**
 * Bundles the `cep-node` binary into one CommonJS file, dist/cep-node.cjs, with esbuild: the
 * app, the @cep packages (from their TypeScript source, so no package needs a `tsc` build first)
 * and the npm dependencies, and makes its V8 code cache, dist/cep-node.cjs.v8cache.
 * `bin/cep-node.js` runs the bundle with that cache. Most of a start was V8 parsing and compiling
 * the bundle (see README, "Startup"); with the cache V8 reads the compiled code instead.
 * Why CommonJS: on Node 20 only a script (`vm.Script`) takes a code cache, not an ES module.
 * It also builds the web console into dist/ui/ (app.js bundled for the browser from ui/src/,
 * index.html and app.css copied), which the peer serves at /ui/.
 *
 *   node scripts/bundle.mjs            bundle
 *   node scripts/bundle.mjs --if-stale bundle only when a source the last bundle read is newer
 *                                      than it (or missing): the root `demo` script's first step
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const appDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const distDir = join(appDir, 'dist');
const outfile = join(distDir, 'cep-node.cjs');
const cacheFile = `${outfile}.v8cache`;
const inputsFile = join(appDir, 'dist', 'cep-node.inputs.json');

/** True when the bundle is missing or any file it was made from changed since. */
function stale() {
  if (!existsSync(outfile) || !existsSync(cacheFile) || !existsSync(inputsFile)) return true;
  const built = statSync(outfile).mtimeMs;
  const inputs = JSON.parse(readFileSync(inputsFile, 'utf8'));
  return inputs.some((file) => !existsSync(resolve(appDir, file)) || statSync(resolve(appDir, file)).mtimeMs > built);
}

if (process.argv.includes('--if-stale') && !stale()) process.exit(0);

const { build } = await import('esbuild');
// Files of earlier layouts of dist/ (an ES module bundle and its chunks): the bin no longer runs them.
for (const old of ['cep-node.mjs', 'cep-node.mjs.map', 'chunks']) rmSync(join(distDir, old), { recursive: true, force: true });
const started = performance.now();

// The serializer's hasher module (a dependency of a dependency, bundled from this monorepo's source).
const serializerHash = join(appDir, '..', '..', 'packages', 'serializer', 'src', 'hash.ts');
/** The one top-level await in the peer's sources, which a CommonJS bundle cannot hold. */
const WASM_AWAIT = 'const wasmHasher = await createBLAKE3(256);';

/**
 * `import.meta.url` inside a dependency's source means "where this module lives" (the
 * serializer resolves fast-crc32c and its native addon from it). In one bundle it would be the
 * bundle's own URL, where those packages do not resolve; keep each module's real location.
 * And the serializer's top-level `await` of its WebAssembly hasher becomes an exported promise
 * (`bundleReady`) that the bundle's entry awaits before it runs anything: same order, no await
 * at module level. If that line ever changes, esbuild refuses the top-level await: a loud failure.
 */
const adaptSources = {
  name: 'cep-node-sources',
  setup(b) {
    // Run-time imports go through the `import()` the bin passes in as `__cepImport` (see
    // src/import-module.ts); run as a plain file (`node dist/cep-node.cjs`), node's own `import()`.
    b.onLoad({ filter: /[\\/]src[\\/]import-module\.ts$/ }, () => ({
      contents:
        'declare const __cepImport: ((specifier: string) => Promise<unknown>) | undefined;\n' +
        'export function importModule(specifier: string): Promise<Record<string, unknown>> {\n' +
        "  return (typeof __cepImport === 'function' ? __cepImport(specifier) : import(specifier)) as Promise<Record<string, unknown>>;\n" +
        '}\n',
      loader: 'ts',
    }));
    b.onLoad({ filter: /[\\/]packages[\\/][^\\/]+[\\/]src[\\/].*\.ts$/ }, (args) => {
      let source = readFileSync(args.path, 'utf8');
      const isHash = resolve(args.path) === serializerHash;
      if (!isHash && !source.includes('import.meta.url')) return undefined;
      if (isHash) {
        if (!source.includes(WASM_AWAIT)) throw new Error(`${serializerHash}: expected "${WASM_AWAIT}" (see scripts/bundle.mjs)`);
        source = source.replace(
          WASM_AWAIT,
          'let wasmHasher: Awaited<ReturnType<typeof createBLAKE3>>;\nexport const bundleReady = createBLAKE3(256).then((h) => { wasmHasher = h; });',
        );
      }
      return { contents: source.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)), loader: 'ts' };
    });
  },
};

const result = await build({
  stdin: {
    contents: `import { bundleReady } from ${JSON.stringify(serializerHash)};\nimport { runBinary } from './main.ts';\nvoid bundleReady.then(runBinary);\n`,
    resolveDir: join(appDir, 'src'),
    sourcefile: 'bundle-entry.ts',
    loader: 'ts',
  },
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20.19',
  // The @cep packages' `@cep/source` export: bundle their TypeScript directly.
  conditions: ['@cep/source'],
  // The app's own `import.meta.url` (package.json, examples/, ui/ found relative to it): the bundle's URL.
  define: { 'import.meta.url': '__cepBundleUrl' },
  banner: { js: "var __cepBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  sourcemap: 'linked',
  // Fewer bytes to read, hash and (when the cache is rejected: another Node) parse. Identifiers are
  // kept, so stack traces name the real functions; the source map has the rest.
  minifyWhitespace: true,
  minifySyntax: true,
  metafile: true,
  logLevel: 'warning',
  plugins: [adaptSources],
});
// The web console: plain DOM, bundled for the browser and minified (it is downloaded, not started).
const uiDir = join(appDir, 'dist', 'ui');
mkdirSync(uiDir, { recursive: true });
const ui = await build({
  entryPoints: [join(appDir, 'ui', 'src', 'main.ts')],
  outfile: join(uiDir, 'app.js'),
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: ['chrome110', 'firefox110', 'safari16'],
  minify: true,
  metafile: true,
  logLevel: 'warning',
});
for (const file of ['index.html', 'app.css']) copyFileSync(join(appDir, 'ui', file), join(uiDir, file));
const inputs = [
  ...Object.keys(result.metafile.inputs).filter((file) => file !== '<stdin>'),
  ...Object.keys(ui.metafile.inputs),
  join(appDir, 'ui', 'index.html'),
  join(appDir, 'ui', 'app.css'),
  // The bin wraps the bundle for the code cache: a change there must remake the cache.
  join(appDir, 'bin', 'cep-node.js'),
].map((file) => relative(appDir, resolve(process.cwd(), file)));
writeFileSync(inputsFile, `${JSON.stringify(inputs)}\n`);
const cached = await makeCodeCache();
const kib = Math.round(statSync(outfile).size / 1024);
const uiKib = Math.round(statSync(join(uiDir, 'app.js')).size / 1024);
process.stderr.write(
  `cep-node bundled: ${relative(process.cwd(), outfile)} (${kib} KiB, ${inputs.length} inputs), console ${relative(process.cwd(), uiDir)} (app.js ${uiKib} KiB), ${cached} in ${Math.round(performance.now() - started)} ms\n`,
);

/**
 * The code cache: the bundled peer is started once (ephemeral, HTTP on a free loopback port),
 * asked for /status and stopped with SIGTERM; at exit the bin writes V8's cache of every
 * function compiled by then, so the next starts skip parsing and compiling them. Made by the
 * same `node` that runs it (V8 refuses a cache from another version or other flags, and the
 * bin then compiles as usual). A failure only costs start time: it warns and goes on.
 */
async function makeCodeCache() {
  rmSync(cacheFile, { force: true });
  const dir = mkdtempSync(join(tmpdir(), 'cep-node-cache-'));
  const partial = join(dir, 'cep-node.cjs.v8cache');
  try {
    const config = join(dir, 'warmup.json');
    writeFileSync(config, JSON.stringify({ peer: 'warmup', enclave: 'bundle', log_level: 'info', http: { host: '127.0.0.1', port: 0 } }));
    const env = { ...process.env, CEP_NODE_WRITE_CODE_CACHE: partial };
    delete env.NODE_OPTIONS;
    const child = spawn(process.execPath, [join(appDir, 'bin', 'cep-node.js'), 'run', '--config', config, '--ephemeral', '--log-format', 'json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    const exited = new Promise((done) => child.once('exit', (code) => done(code)));
    let out = '';
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (chunk) => void (err += chunk));
    const url = await new Promise((done, fail) => {
      child.stdout.setEncoding('utf8').on('data', (chunk) => {
        out += chunk;
        const found = /"url":"([^"]+)","msg":"http endpoint listening"/.exec(out);
        if (found) done(found[1]);
      });
      void exited.then((code) => fail(new Error(`the peer exited (${code}) before it listened: ${err.trim()}`)));
    });
    await (await fetch(`${url}/status`)).text();
    child.kill('SIGTERM');
    const code = await exited;
    if (code !== 0 || !existsSync(partial)) throw new Error(`the peer exited with ${code} and no cache: ${err.trim()}`);
    renameSync(partial, cacheFile);
    return `code cache ${Math.round(statSync(cacheFile).size / 1024)} KiB`;
  } catch (error) {
    process.stderr.write(`cep-node bundle: no code cache (${error.message}); the peer starts without it, parsing the bundle\n`);
    return 'no code cache';
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
