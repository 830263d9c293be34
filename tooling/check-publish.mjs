#!/usr/bin/env node
// What a registry user would get, checked on the built packages: publint (package.json fields
// against the packed files) and are-the-types-wrong (every export resolves to types and
// JavaScript under node16 ESM and bundler resolution; the packages are ESM only, so the CommonJS
// and node10 rows are not required). Needs `turbo run build` first. Prints one line a package.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { workspacePackages } from './workspace-packages.mjs';

const root = new URL('..', import.meta.url).pathname;

function run(cwd, args) {
  return new Promise((resolve) => {
    const child = spawn(join(root, 'node_modules', '.bin', args[0]), args.slice(1), { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('exit', (code) => resolve({ ok: code === 0, output }));
  });
}

async function check(dir) {
  const cwd = join(root, dir);
  const lint = await run(cwd, ['publint', '--pack', 'npm', '--strict']);
  const types = await run(cwd, ['attw', '--pack', '.', '--profile', 'esm-only', '--format', 'table-flipped']);
  const ok = lint.ok && types.ok;
  process.stdout.write(`${ok ? 'ok  ' : 'FAIL'} ${dir}${lint.ok ? '' : ' (publint)'}${types.ok ? '' : ' (attw)'}\n`);
  if (!lint.ok) process.stdout.write(lint.output);
  if (!types.ok) process.stdout.write(types.output);
  return ok;
}

// Two at a time: each is mostly waiting on `npm pack`.
const queue = workspacePackages()
  .filter((pkg) => !pkg.manifest.private)
  .map((pkg) => pkg.dir);
let failures = 0;
await Promise.all(
  [0, 1].map(async () => {
    for (let dir = queue.shift(); dir !== undefined; dir = queue.shift()) if (!(await check(dir))) failures += 1;
  }),
);
process.stdout.write(`publish checks: ${failures === 0 ? 'every package is clean' : `${failures} package(s) failed`}\n`);
process.exit(failures === 0 ? 0 : 1);
