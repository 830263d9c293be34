#!/usr/bin/env node
// Lint (biome's rules, tuned in biome.jsonc) and, once the repository has been formatted, the
// format check, in one biome pass over every file biome.jsonc includes.
//
// Files listed in tooling/lint-pending.json are known not to be clean yet: their findings are
// printed but do not fail the run. Every other file must have none. A listed file that has
// become clean fails the run too, so the list only shrinks. When `formatEnforced` is false,
// unformatted files are counted and printed but do not fail (tooling/apply-format.sh formats
// the repository and turns it on).
//
//   node tooling/lint.mjs          the check (CI and `pnpm lint`)
//   node tooling/lint.mjs --list   every finding, one line each, pending files included
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const pendingFile = join(root, 'tooling', 'lint-pending.json');
const pending = JSON.parse(readFileSync(pendingFile, 'utf8'));
const pendingFiles = new Set(pending.files);
const listAll = process.argv.includes('--list');

const result = spawnSync(join(root, 'node_modules', '.bin', 'biome'), ['check', '--max-diagnostics=none', '--reporter=json', '.'], {
  cwd: root,
  encoding: 'utf8',
  maxBuffer: 256 * 1024 * 1024,
});
let report;
try {
  report = JSON.parse(result.stdout);
} catch {
  process.stderr.write(result.stderr);
  process.stdout.write('lint: biome printed no report (its error is above)\n');
  process.exit(1);
}

/** Everything biome reports except its notes about the configuration itself. */
const findings = report.diagnostics
  .filter((d) => d.severity === 'error' || d.severity === 'warning')
  .map((d) => ({ rule: d.category, file: d.location?.path ?? '(no file)', line: d.location?.start?.line ?? 0, message: d.message }));

const lintFindings = findings.filter((f) => f.rule !== 'format');
const unformatted = [...new Set(findings.filter((f) => f.rule === 'format').map((f) => f.file))].sort();
const blocking = lintFindings.filter((f) => !pendingFiles.has(f.file));
const tolerated = lintFindings.filter((f) => pendingFiles.has(f.file));
const dirty = new Set(lintFindings.map((f) => f.file));
const staleEntries = pending.files.filter((file) => !dirty.has(file));

const line = (f) => `${f.file}:${f.line} ${f.rule.replace(/^lint\//, '')}: ${f.message}`;
for (const f of blocking) process.stdout.write(`lint: ${line(f)}\n`);
if (listAll) for (const f of tolerated) process.stdout.write(`pending: ${line(f)}\n`);
for (const file of staleEntries) process.stdout.write(`lint: ${file} is clean now; remove it from tooling/lint-pending.json\n`);
if (pending.formatEnforced || listAll) for (const file of unformatted) process.stdout.write(`format: ${file} is not formatted (pnpm format)\n`);

const byRule = new Map();
for (const f of tolerated) byRule.set(f.rule, (byRule.get(f.rule) ?? 0) + 1);
if (tolerated.length > 0) {
  const rules = [...byRule].sort((a, b) => b[1] - a[1]).map(([rule, n]) => `${n} ${rule.replace(/^lint\//, '')}`);
  process.stdout.write(`lint: ${tolerated.length} known finding(s) in ${pendingFiles.size} pending file(s): ${rules.join(', ')}\n`);
}
const formatFails = pending.formatEnforced && unformatted.length > 0;
process.stdout.write(
  `lint: ${report.summary.changed + report.summary.unchanged} files, ${blocking.length} finding(s) outside the pending list, ` +
    `${unformatted.length} unformatted file(s) (format check ${pending.formatEnforced ? 'enforced' : 'not enforced yet'})\n`,
);
process.exit(blocking.length > 0 || staleEntries.length > 0 || formatFails ? 1 : 0);
