#!/usr/bin/env node
// Runs every check CI relies on and ends with one plain line: "N passed, N failed".
// Steps: typecheck all packages, unit tests of every package, then (after a build,
// because they spawn real processes) the cross-process integration tests.
// Vitest's own summary is printed too, but CI reads only the closing line. Each step has a
// time budget (4 + 6 + 4 + 4 minutes) so the whole run stays under CI's 20 minutes.
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
 * Runs one step in its own process group. A step still running after `limitMinutes` is
 * killed with its whole group (vitest's workers too) and counted as a failure, so a test that
 * never ends (a synchronous loop no vitest timeout can interrupt) fails CI within its budget
 * instead of hanging it.
 */
async function run(label, command, args, limitMinutes) {
  process.stdout.write(`\n=== ${label}: ${command} ${args.join(' ')}\n`);
  const child = spawn(command, args, { cwd: root, stdio: 'inherit', env, detached: true });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    problems.push(`${label}: still running after ${limitMinutes} minutes; killed`);
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }, limitMinutes * 60_000);
  const code = await new Promise((resolve) => child.once('exit', (status) => resolve(status)));
  clearTimeout(timer);
  return code === 0 && !timedOut;
}

function bin(name) {
  return join(root, 'node_modules', '.bin', name);
}

/** Reads vitest's JSON report; a missing report means the run itself broke. */
function countVitest(label, reportFile, exitedOk) {
  if (!existsSync(reportFile)) {
    failed += 1;
    problems.push(`${label}: vitest wrote no report (crashed before running tests)`);
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
    problems.push(`${label}: vitest exited non-zero (unhandled error?)`);
  }
}

if (!(await run('typecheck', bin('turbo'), ['run', 'typecheck', '--output-logs=errors-only'], 4))) {
  failed += 1;
  problems.push('typecheck failed');
}

const unitReport = join(resultsDir, 'unit.json');
const unitOk = await run('unit tests', bin('vitest'), [
  'run', '--project', '!integration', '--reporter=default', '--reporter=json', `--outputFile=${unitReport}`,
], 6);
countVitest('unit', unitReport, unitOk);

if (existsSync(join(root, 'packages', 'integration'))) {
  // Only what the integration package depends on (its devDependencies, e.g. @cep/node-app
  // and everything below it): the peers it spawns run from dist/. A package the integration
  // tests do not use cannot block them; its compile errors are the typecheck step's to report.
  if (!(await run('build (integration tests spawn built peers)', bin('turbo'), ['run', 'build', '--filter=@cep/integration...', '--output-logs=errors-only'], 4))) {
    failed += 1;
    problems.push('build failed');
  } else {
    const integrationReport = join(resultsDir, 'integration.json');
    const integrationOk = await run('integration tests', bin('vitest'), [
      'run', '--project', 'integration', '--reporter=default', '--reporter=json', `--outputFile=${integrationReport}`,
    ], 4);
    countVitest('integration', integrationReport, integrationOk);
  }
}

for (const problem of problems) process.stdout.write(`problem: ${problem}\n`);
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exit(failed === 0 ? 0 : 1);
