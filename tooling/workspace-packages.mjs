// The workspace's package folders (pnpm-workspace.yaml lists packages/* and apps/*), each with
// its parsed package.json: what the publishing checks walk.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

/** Every workspace package: `dir` relative to the repository root, `file` its package.json, `manifest` parsed. */
export function workspacePackages() {
  const out = [];
  for (const parent of ['packages', 'apps']) {
    for (const entry of readdirSync(join(root, parent), { withFileTypes: true })) {
      const file = join(root, parent, entry.name, 'package.json');
      if (entry.isDirectory() && existsSync(file)) out.push({ dir: join(parent, entry.name), file, manifest: JSON.parse(readFileSync(file, 'utf8')) });
    }
  }
  return out;
}
