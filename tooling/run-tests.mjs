#!/usr/bin/env node
// Runs every check CI relies on and ends with one plain line: "N passed, N failed".
// Steps: typecheck all packages, doc links, package metadata, changesets, lint, API docs, unit tests of every package (with coverage), then
// (after a build, because they spawn real processes) the cross-process integration tests and
// the publish checks of each package as packed.
// Vitest's own summary is printed too, but CI reads only the closing line. No step has a time
// budget (a busy machine must not fail a healthy run); hangs are named per test file by
// tooling/progress-reporter.mjs, which also prints a line as each test file finishes.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const resultsDir = join(root, '.test-results');
rmSync(resultsDir, { recursive: true, force: true });
mkdirSync(resultsDir, { recursive: true });

// pnpm 10 hands scripts `pnpm_config_verify_deps_before_run=false` as a *string*, which the
// pnpm runs turbo starts (one per package, in parallel) read as truthy: each then checks and
// rewrites node_modules/.pnpm-workspace-state-v1.json, and a torn read of it fails a task
// ("Unexpected end of JSON input", pnpm/pnpm#12020). Without the variable they skip the check.
const env = { ...process.env };
delete env.pnpm_config_verify_deps_before_run;
delete env.npm_config_verify_deps_before_run;

let passed = 0;
let failed = 0;
const problems = [];

/**
 * Runs one step in its own process group and waits for it, however long a busy machine makes
 * it: there is no budget on a whole step. Hangs are caught per test file by
 * tooling/progress-reporter.mjs (no progress for CEP_TEST_STALL_SECONDS → it names the file
 * and test and ends vitest). When the step ends, whatever it left behind in its group (a
 * worker stuck in a synchronous loop, a spawned peer) is killed.
 */
async function run(label, command, args) {
  const started = Date.now();
  process.stdout.write(`\n=== ${label}: ${command} ${args.join(' ')}\n`);
  const child = spawn(command, args, { cwd: root, stdio: 'inherit', env, detached: true });
  const code = await new Promise((resolve) => child.once('exit', (status) => resolve(status)));
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // the group is already gone
  }
  process.stdout.write(`=== ${label}: exit ${code} after ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  return code === 0;
}

/** vitest's own output, a JSON report to count from, and the progress/stall reporter. */
function reporters(reportFile) {
  return ['--reporter=default', '--reporter=json', `--outputFile.json=${reportFile}`, `--reporter=${join(root, 'tooling', 'progress-reporter.mjs')}`];
}

function bin(name) {
  return join(root, 'node_modules', '.bin', name);
}

/** Reads vitest's JSON report; a missing report means the run itself broke. */
function countVitest(label, reportFile, exitedOk, nonZeroMeans = 'unhandled error?') {
  if (!existsSync(reportFile)) {
    failed += 1;
    const stalledFile = join(resultsDir, 'stalled.txt');
    const stalled = existsSync(stalledFile) ? `: ${readFileSync(stalledFile, 'utf8').trim()}` : ' (crashed before running tests)';
    problems.push(`${label}: vitest wrote no report${stalled}`);
    return;
  }
  const report = JSON.parse(readFileSync(reportFile, 'utf8'));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  // Suites that fail to load (syntax error, bad import) have no tests to count.
  const brokenSuites = report.testResults.filter((s) => s.status === 'failed' && s.assertionResults.length === 0);
  for (const suite of brokenSuites) {
    failed += 1;
    problems.push(`${label}: suite failed to load: ${suite.name}`);
  }
  if (report.numTotalTests === 0) {
    failed += 1;
    problems.push(`${label}: no tests ran`);
  }
  if (!exitedOk && report.numFailedTests === 0 && brokenSuites.length === 0) {
    failed += 1;
    problems.push(`${label}: vitest exited non-zero (${nonZeroMeans})`);
  }
}

// One compiler run over the whole workspace (tooling/typecheck.mjs says why), then the console's.
if (!(await run('typecheck', process.execPath, [join(root, 'tooling', 'typecheck.mjs')]))) {
  failed += 1;
  problems.push('typecheck failed');
}

// Every relative link in the READMEs and docs resolves inside the repository (a user clones
// only this repository).
if (!(await run('doc links', process.execPath, [join(root, 'tooling', 'check-doc-links.mjs')]))) {
  failed += 1;
  problems.push('doc links: a relative link points at nothing (listed above)');
}

// Every publishable package.json carries what the registry and its users need (license, files,
// ESM exports with a default condition); `node tooling/package-metadata.mjs --fix` writes them.
if (!(await run('package metadata', process.execPath, [join(root, 'tooling', 'package-metadata.mjs')]))) {
  failed += 1;
  problems.push('package metadata: fields missing (listed above)');
}

// Every pending changeset parses and names packages of this workspace, and changesets can build
// the release plan from them (tooling/check-changesets.mjs; CEP_CHANGESET_BASE=<ref> also
// fails when packages changed since that ref and no changeset was added).
if (!(await run('changesets', process.execPath, [join(root, 'tooling', 'check-changesets.mjs')]))) {
  failed += 1;
  problems.push('changesets: a changeset is broken or missing (listed above)');
}

// biome's lint rules over every file (tooling/lint.mjs: files in tooling/lint-pending.json may
// still have known findings, nothing else may; the format check joins once the repository has
// been formatted).
if (!(await run('lint', process.execPath, [join(root, 'tooling', 'lint.mjs')]))) {
  failed += 1;
  problems.push('lint: findings (listed above)');
}

// The API reference still builds from the sources and their doc comments (TypeDoc, one
// program over every package's entry points; `pnpm docs:api` writes it to docs/api/).
if (!(await run('api docs', process.execPath, [join(root, 'tooling', 'api-docs.mjs'), '--check']))) {
  failed += 1;
  problems.push('api docs: TypeDoc failed (listed above)');
}

const unitReport = join(resultsDir, 'unit.json');
// With v8 coverage of the sources (floors in vitest.config.ts: under them vitest exits non-zero).
const coverageSummary = join(root, 'coverage', 'coverage-summary.json');
rmSync(coverageSummary, { force: true });
const unitOk = await run('unit tests', bin('vitest'), ['run', '--project', '!integration', '--coverage', ...reporters(unitReport)]);
countVitest('unit', unitReport, unitOk, 'coverage under its floor (see the ERROR lines above), or an unhandled error');
if (existsSync(coverageSummary)) {
  const total = JSON.parse(readFileSync(coverageSummary, 'utf8')).total;
  const pct = (kind) => `${kind} ${total[kind].pct}%`;
  process.stdout.write(`coverage (unit tests): ${['statements', 'branches', 'functions', 'lines'].map(pct).join(', ')}\n`);
}

if (existsSync(join(root, 'packages', 'integration'))) {
  // Every package: the peers the integration tests spawn run from dist/, and the publish
  // checks below read each package as it would be packed.
  if (!(await run('build (integration tests spawn built peers)', bin('turbo'), ['run', 'build', '--output-logs=errors-only']))) {
    failed += 1;
    problems.push('build failed');
  } else {
    const integrationReport = join(resultsDir, 'integration.json');
    const integrationOk = await run('integration tests', bin('vitest'), ['run', '--project', 'integration', ...reporters(integrationReport)]);
    countVitest('integration', integrationReport, integrationOk);
    // publint + are-the-types-wrong on each package as packed (after the tests, so a failure
    // here never hides a test result).
    if (!(await run('publish checks', process.execPath, [join(root, 'tooling', 'check-publish.mjs')]))) {
      failed += 1;
      problems.push('publish checks: a package would publish broken (listed above)');
    }
  }
}

for (const problem of problems) process.stdout.write(`problem: ${problem}\n`);
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exit(failed === 0 ? 0 : 1);
