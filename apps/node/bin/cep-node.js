#!/usr/bin/env node
// The `cep-node` binary: runs the bundled peer (dist/cep-node.mjs, made by `pnpm build` or the
// root `demo` script). This launcher is committed so the package's bin always exists, even
// before a build; without the bundle it says how to make it.
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/cep-node.mjs', import.meta.url);
if (!existsSync(bundle)) {
  process.stderr.write('cep-node is not built yet: run `npx --yes pnpm@10.34.8 build` at the repository root (or `node apps/node/scripts/bundle.mjs`)\n');
  process.exit(1);
}
await import(bundle.href);
