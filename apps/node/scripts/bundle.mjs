#!/usr/bin/env node
/**
 * Bundles the `cep-node` binary into one file, dist/cep-node.mjs, with esbuild: the app, the
 * @cep packages (from their TypeScript source, so no package needs a `tsc` build first) and the
 * npm dependencies. One file instead of a few hundred modules is what cuts the peer's start
 * (see README, "Startup"). `bin/cep-node.js` runs it. It also builds the web console into
 * dist/ui/ (app.js bundled for the browser from ui/src/, index.html and app.css copied), which
 * the peer serves at /ui/.
 *
 *   node scripts/bundle.mjs            bundle
 *   node scripts/bundle.mjs --if-stale bundle only when a source the last bundle read is newer
 *                                      than it (or missing): the root `demo` script's first step
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const appDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const distDir = join(appDir, 'dist');
const outfile = join(distDir, 'cep-node.mjs');
const inputsFile = join(appDir, 'dist', 'cep-node.inputs.json');

/** True when the bundle is missing or any file it was made from changed since. */
function stale() {
  if (!existsSync(outfile) || !existsSync(inputsFile)) return true;
  const built = statSync(outfile).mtimeMs;
  const inputs = JSON.parse(readFileSync(inputsFile, 'utf8'));
  return inputs.some((file) => !existsSync(resolve(appDir, file)) || statSync(resolve(appDir, file)).mtimeMs > built);
}

if (process.argv.includes('--if-stale') && !stale()) process.exit(0);

const { build } = await import('esbuild');
const started = performance.now();

/**
 * `import.meta.url` inside a dependency's source means "where this module lives" (the
 * serializer resolves fast-crc32c and its native addon from it). In one bundle it would be the
 * bundle's own URL, where those packages do not resolve; keep each module's real location.
 */
const keepModuleUrls = {
  name: 'keep-module-urls',
  setup(b) {
    b.onLoad({ filter: /[\\/]packages[\\/][^\\/]+[\\/]src[\\/].*\.ts$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      if (!source.includes('import.meta.url')) return undefined;
      return { contents: source.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)), loader: 'ts' };
    });
  },
};

// Chunk names carry a content hash: drop the last build's, so dist/ holds only what the bundle imports.
rmSync(join(distDir, 'chunks'), { recursive: true, force: true });
const result = await build({
  entryPoints: { 'cep-node': join(appDir, 'src', 'cli.ts') },
  outdir: distDir,
  outExtension: { '.js': '.mjs' },
  // Modules only some configs need (the nats client) are `import()`ed: split into chunks that
  // are read only when imported, so a peer does not parse them before it answers.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20.19',
  // The @cep packages' `@cep/source` export: bundle their TypeScript directly.
  conditions: ['@cep/source'],
  // CommonJS dependencies (pino, prom-client, …) call `require` for node builtins.
  banner: { js: "import { createRequire as __cepCreateRequire } from 'node:module';\nconst require = __cepCreateRequire(import.meta.url);" },
  sourcemap: 'linked',
  // Start time is mostly V8 parsing the bundle (see README, "Startup"): fewer bytes parse faster.
  // Identifiers are kept, so stack traces name the real functions; the source map has the rest.
  minifyWhitespace: true,
  minifySyntax: true,
  metafile: true,
  logLevel: 'warning',
  plugins: [keepModuleUrls],
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
  ...Object.keys(result.metafile.inputs),
  ...Object.keys(ui.metafile.inputs),
  join(appDir, 'ui', 'index.html'),
  join(appDir, 'ui', 'app.css'),
].map((file) => relative(appDir, resolve(process.cwd(), file)));
writeFileSync(inputsFile, `${JSON.stringify(inputs)}\n`);
const kib = Math.round(statSync(outfile).size / 1024);
const uiKib = Math.round(statSync(join(uiDir, 'app.js')).size / 1024);
process.stderr.write(
  `cep-node bundled: ${relative(process.cwd(), outfile)} (${kib} KiB, ${inputs.length} inputs), console ${relative(process.cwd(), uiDir)} (app.js ${uiKib} KiB) in ${Math.round(performance.now() - started)} ms\n`,
);
