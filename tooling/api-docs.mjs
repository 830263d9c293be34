#!/usr/bin/env node
// Generates the API reference of every published package with TypeDoc, from the sources and
// their doc comments, into docs/api/ (gitignored): `pnpm docs:api`, then open docs/api/index.html.
//   node tooling/api-docs.mjs           HTML into docs/api/
//   node tooling/api-docs.mjs --check   converts and validates only, writes nothing (CI)
// Each package is documented from the source of each entry its package.json exports (`.`, and
// subpaths such as `@cep/transport/provider`), so the reference shows what a user can import.
import { join, relative } from 'node:path';
import { Application, LogLevel } from 'typedoc';
import { workspacePackages } from './workspace-packages.mjs';

const root = new URL('..', import.meta.url).pathname;
const check = process.argv.includes('--check');
const out = join(root, 'docs', 'api');

/** `[subpath, source file]` for each exported entry point (its `@cep/source` condition). */
function sourceEntries(manifest) {
  const entries = [];
  for (const [subpath, target] of Object.entries(manifest.exports ?? {})) {
    const source = typeof target === 'object' && target !== null ? target['@cep/source'] : undefined;
    if (subpath !== './package.json' && typeof source === 'string') entries.push([subpath, source]);
  }
  return entries;
}

const packages = workspacePackages().filter((p) => p.manifest.private !== true);
/** Each entry's source file, by the specifier a user imports it with (`@cep/transport/provider`). */
const specifierOf = new Map();
for (const p of packages) {
  for (const [subpath, source] of sourceEntries(p.manifest)) specifierOf.set(join(root, p.dir, source), join(p.manifest.name, subpath));
}
const entryPoints = [...specifierOf.keys()];
const app = await Application.bootstrapWithPlugins({
  name: 'CEP Federation',
  // One TypeScript program over every entry point: one pass, not one per package.
  entryPointStrategy: 'resolve',
  entryPoints,
  tsconfig: join(root, 'tooling', 'tsconfig.api-docs.json'),
  readme: 'none',
  out,
  logLevel: LogLevel.Warn,
  excludePrivate: true,
  excludeInternal: true,
  // Node's own types (streams, sockets) are documented by Node.
  externalSymbolLinkMappings: { '@types/node': { '*': 'https://nodejs.org/api/' } },
});
const project = await app.convert();
if (project === undefined) {
  process.stdout.write('api docs: TypeDoc could not convert the packages (errors above)\n');
  process.exit(1);
}
// TypeDoc names a module by its path (`transport/src/provider`); users know it by its import specifier.
for (const module of project.children ?? []) {
  const file = module.sources?.[0]?.fullFileName;
  const specifier = file === undefined ? undefined : specifierOf.get(file);
  if (specifier !== undefined) module.name = specifier;
}
app.validate(project);
if (app.logger.hasErrors()) {
  process.stdout.write('api docs: TypeDoc reported errors (above)\n');
  process.exit(1);
}
if (!check) await app.generateDocs(project, out);
process.stdout.write(
  `api docs: ${packages.length} packages converted${check ? ' (check only, nothing written)' : ` into ${relative(root, out)}/index.html`}, ` +
    `${app.logger.warningCount} warning(s)\n`,
);
