#!/usr/bin/env node
// Checks the pending changesets (.changeset/*.md) in a way that means something on any clone,
// including a fresh clone of main with no other branch:
//  1. every changeset file parses: a front matter of `'<package>': patch|minor|major` lines and
//     a non-empty summary, naming only packages of this workspace, each once;
//  2. `changeset status` assembles the release plan from them (what `changeset version` will do).
//     With CEP_CHANGESET_BASE set (a pull-request job sets it to the target branch, e.g.
//     origin/main), it also fails when packages changed since that ref and no changeset was added
//     (changesets asks for one at all, not one per changed package).
//     Without it, it compares HEAD with itself: the release plan is checked, nothing is required.
//   node tooling/check-changesets.mjs
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { workspacePackages } from './workspace-packages.mjs';

const root = new URL('..', import.meta.url).pathname;
const dir = join(root, '.changeset');
// Private packages (the cep-node app) count: changesets versions them and writes their CHANGELOG too.
const known = new Set(workspacePackages().map((p) => p.manifest.name));
const problems = [];

const files = readdirSync(dir).filter((f) => f.endsWith('.md') && f !== 'README.md');
for (const file of files) {
  const text = readFileSync(join(dir, file), 'utf8');
  const match = /^---\r?\n([\s\S]*?)\r?\n---\r?\n([\s\S]*)$/.exec(text);
  if (match === null) {
    problems.push(`${file}: no front matter (--- … --- at the top naming the packages and their bumps)`);
    continue;
  }
  const [, front, summary] = match;
  const seen = new Set();
  for (const raw of front.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') continue;
    const entry = /^(['"]?)(@?[\w./-]+)\1\s*:\s*(patch|minor|major|none)$/.exec(line);
    if (entry === null) {
      problems.push(`${file}: "${line}" is not a "'<package>': patch|minor|major|none" line`);
      continue;
    }
    const name = entry[2];
    if (!known.has(name)) problems.push(`${file}: ${name} is not a package of this workspace`);
    if (seen.has(name)) problems.push(`${file}: ${name} is named twice`);
    seen.add(name);
  }
  if (seen.size === 0) problems.push(`${file}: names no package`);
  if (summary.trim() === '') problems.push(`${file}: has no summary (the sentence that goes into the CHANGELOG)`);
}

for (const problem of problems) process.stdout.write(`changesets: ${problem}\n`);

// Only when every file parses: changesets' own errors on a broken file are stack traces.
let statusOk = true;
if (problems.length === 0) {
  const since = process.env.CEP_CHANGESET_BASE || 'HEAD';
  const status = spawnSync(join(root, 'node_modules', '.bin', 'changeset'), ['status', `--since=${since}`], { cwd: root, encoding: 'utf8' });
  // `--since=HEAD` still counts uncommitted edits as changes; without a base nothing is required,
  // so that one complaint is not a failure (a broken release plan still is).
  const onlyMissing = /no changesets were found/.test(status.stdout + status.stderr) && !process.env.CEP_CHANGESET_BASE;
  statusOk = status.status === 0 || onlyMissing;
  if (!statusOk) process.stdout.write(`${status.stdout}${status.stderr}changesets: \`changeset status --since=${since}\` failed (above)\n`);
}
process.stdout.write(
  `changesets: ${files.length} file(s), ${problems.length} problem(s), release plan ${statusOk ? 'ok' : 'failed'}` +
    ` (${process.env.CEP_CHANGESET_BASE ? `changes since ${process.env.CEP_CHANGESET_BASE} need a changeset` : 'no base branch: nothing required'})\n`,
);
process.exit(problems.length === 0 && statusOk ? 0 : 1);
