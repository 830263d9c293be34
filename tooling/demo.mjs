#!/usr/bin/env node
// Placeholder for the two-peer demo (issue: apps/node). Until the peer exists this prints the
// workspace packages so the README's main command does something honest.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
console.log('CEP Federation workspace packages:');
for (const group of ['packages', 'apps']) {
  const dir = join(root, group);
  if (!existsSync(dir)) continue;
  for (const entry of readdirSync(dir)) {
    const manifest = join(dir, entry, 'package.json');
    if (!existsSync(manifest)) continue;
    const pkg = JSON.parse(readFileSync(manifest, 'utf8'));
    console.log(`  ${pkg.name.padEnd(28)} ${pkg.description ?? ''}`);
  }
}
console.log('\nThe two-peer demo (cep-node demo) is not built yet.');
