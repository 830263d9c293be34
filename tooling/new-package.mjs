#!/usr/bin/env node
// Scaffolds packages/<dir> (or apps/<dir>) with the layout CONVENTIONS.md asks for.
// Usage: node tooling/new-package.mjs <dir> "<one-line description>" [--app]
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, description = '', flag] = process.argv.slice(2);
if (!dir) {
  console.error('usage: node tooling/new-package.mjs <dir> "<description>" [--app]');
  process.exit(2);
}
const isApp = flag === '--app';
const root = new URL('..', import.meta.url).pathname;
const base = join(root, isApp ? 'apps' : 'packages', dir);
if (existsSync(base)) {
  console.error(`${base} exists already`);
  process.exit(1);
}
const name = isApp ? `@cep/${dir}-app` : `@cep/${dir}`;
for (const sub of ['src', 'test', 'bench']) mkdirSync(join(base, sub), { recursive: true });

const pkg = {
  name,
  version: '0.1.0',
  description,
  license: 'MIT',
  type: 'module',
  sideEffects: false,
  engines: { node: '>=20.19' },
  exports: {
    '.': {
      '@cep/source': './src/index.ts',
      types: './dist/index.d.ts',
      import: './dist/index.js',
    },
    './package.json': './package.json',
  },
  types: './dist/index.d.ts',
  files: ['dist', 'src', 'README.md'],
  scripts: {
    build: 'tsc -p tsconfig.build.json',
    typecheck: 'tsc -p tsconfig.json',
    test: 'vitest run',
    bench: 'tsx --conditions=@cep/source bench/run.ts',
  },
  dependencies: {},
  devDependencies: {},
};
if (isApp) pkg.private = true;
writeFileSync(join(base, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
writeFileSync(
  join(base, 'tsconfig.json'),
  JSON.stringify({ extends: '../../tooling/tsconfig.base.json', include: ['src', 'test', 'bench', 'vitest.config.ts'] }, null, 2) + '\n',
);
writeFileSync(join(base, 'tsconfig.build.json'), JSON.stringify({ extends: '../../tooling/tsconfig.build.json' }, null, 2) + '\n');
writeFileSync(join(base, 'vitest.config.ts'), `import { cepProject } from '../../tooling/vitest.shared.ts';\n\nexport default cepProject('${dir}');\n`);
writeFileSync(join(base, 'src', 'index.ts'), `/** ${description} */\nexport {};\n`);
writeFileSync(join(base, 'README.md'), `# ${name}\n\n${description}\n`);
console.log(`created ${base}`);
