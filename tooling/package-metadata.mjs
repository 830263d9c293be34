#!/usr/bin/env node
// Keeps every publishable package.json ready for `pnpm publish`: the fields a registry user
// and their tools read (license, ESM-only exports with a `default` condition, the files that
// must ship) are checked in CI and written with `--fix`, so a new package cannot forget them.
//   node tooling/package-metadata.mjs          # check: lists each problem, exits 1 if any
//   node tooling/package-metadata.mjs --fix    # rewrites the package.json files in place
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { workspacePackages } from './workspace-packages.mjs';

const root = new URL('..', import.meta.url).pathname;
const fix = process.argv.includes('--fix');
const problems = [];
// Where the source lives, once, in the root package.json: every package points at its own folder
// in it (npm shows the link, the README and the issue tracker from these three fields).
const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const repoUrl = rootPkg.repository?.url;
if (typeof repoUrl !== 'string' || !repoUrl.startsWith('git+https://') || !repoUrl.endsWith('.git')) {
  problems.push('package.json (root): repository.url must be "git+https://<host>/<owner>/<name>.git"');
}
const webUrl = typeof repoUrl === 'string' ? repoUrl.replace(/^git\+/, '').replace(/\.git$/, '') : '';

/** Adds `default` after `import` in every conditional export (require() of ESM works on Node ≥20.19, bundlers read `default`). */
function withDefaultCondition(exports) {
  let changed = false;
  const visit = (node) => {
    if (node === null || typeof node !== 'object') return node;
    if (typeof node.import === 'string' && node.default === undefined) {
      changed = true;
      return { ...node, default: node.import };
    }
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, visit(value)]));
  };
  const next = visit(exports);
  return { next, changed };
}

for (const { dir, file } of workspacePackages()) {
  const text = readFileSync(file, 'utf8');
  const pkg = JSON.parse(text);
  if (pkg.private) continue;
  const say = (problem) => problems.push(`${dir}/package.json: ${problem}`);
  if (pkg.license !== 'MIT') {
    say('license must be "MIT" (the repository LICENSE)');
    pkg.license = 'MIT';
  }
  if (pkg.type !== 'module') say('type must be "module" (the packages are ESM only) — not fixed automatically');
  if (typeof pkg.description !== 'string' || pkg.description.length === 0) say('description is missing — not fixed automatically');
  const wantFiles = ['dist', 'src', 'README.md', 'CHANGELOG.md', 'LICENSE'];
  for (const doc of readdirSync(join(root, dir))) if (doc.endsWith('.md') && doc !== 'README.md' && doc !== 'CHANGELOG.md') wantFiles.push(doc);
  const files = Array.isArray(pkg.files) ? [...pkg.files] : [];
  for (const want of wantFiles) {
    if (!files.includes(want)) {
      say(`files must include "${want}"`);
      files.push(want);
    }
  }
  pkg.files = files;
  if (pkg.publishConfig?.access !== 'public') {
    say('publishConfig.access must be "public" (scoped packages are private on the registry by default)');
    pkg.publishConfig = { ...pkg.publishConfig, access: 'public' };
  }
  // npm packs a LICENSE only from the package's own folder: copy the repository's at pack time.
  const prepack = 'node ../../tooling/copy-license.mjs';
  if (pkg.scripts?.prepack !== prepack) {
    say(`scripts.prepack must be "${prepack}"`);
    pkg.scripts = { ...pkg.scripts, prepack };
  }
  const repository = { type: 'git', url: repoUrl, directory: dir };
  if (JSON.stringify(pkg.repository) !== JSON.stringify(repository)) {
    say(`repository must be ${JSON.stringify(repository)}`);
    pkg.repository = repository;
  }
  const homepage = `${webUrl}/tree/main/${dir}#readme`;
  if (pkg.homepage !== homepage) {
    say(`homepage must be "${homepage}"`);
    pkg.homepage = homepage;
  }
  const bugs = { url: `${webUrl}/issues` };
  if (JSON.stringify(pkg.bugs) !== JSON.stringify(bugs)) {
    say(`bugs must be ${JSON.stringify(bugs)}`);
    pkg.bugs = bugs;
  }
  const { next, changed } = withDefaultCondition(pkg.exports ?? {});
  if (changed) {
    say('every export with an "import" condition needs a "default" condition too');
    pkg.exports = next;
  }
  if (fix) {
    const out = `${JSON.stringify(pkg, null, 2)}\n`;
    if (out !== text) writeFileSync(file, out);
  }
}

if (fix) process.stdout.write(`package metadata: ${problems.length} field(s) written\n`);
else if (problems.length > 0) {
  for (const problem of problems) process.stdout.write(`${problem}\n`);
  process.stdout.write(`package metadata: ${problems.length} problem(s); run node tooling/package-metadata.mjs --fix\n`);
  process.exit(1);
} else process.stdout.write('package metadata: every publishable package is complete\n');
