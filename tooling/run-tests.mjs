#!/usr/bin/env node
// Runs every check CI relies on and ends with one plain line: "N passed, N failed".
// Steps: typecheck all packages, unit tests of every package, then (after a build,
// because they spawn real processes) the cross-process integration tests.
// Vitest's own summary is printed too, but CI reads only the closing line.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const resultsDir = join(root, '.test-results');
rmSync(resultsDir, { recursive: true, force: true });
mkdirSync(resultsDir, { recursive: true });

let passed = 0;
let failed = 0;
const problems = [];

function run(label, command, args) {
  process.stdout.write(`\n=== ${label}: ${command} ${args.join(' ')}\n`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: process.env });
  return result.status === 0;
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

if (!run('typecheck', bin('turbo'), ['run', 'typecheck', '--output-logs=errors-only'])) {
  failed += 1;
  problems.push('typecheck failed');
}

const unitReport = join(resultsDir, 'unit.json');
const unitOk = run('unit tests', bin('vitest'), [
  'run', '--project', '!integration', '--reporter=default', '--reporter=json', `--outputFile=${unitReport}`,
]);
countVitest('unit', unitReport, unitOk);

if (existsSync(join(root, 'packages', 'integration'))) {
  // Only what the integration package depends on (its devDependencies, e.g. @cep/node-app
  // and everything below it): the peers it spawns run from dist/. A package the integration
  // tests do not use cannot block them; its compile errors are the typecheck step's to report.
  if (!run('build (integration tests spawn built peers)', bin('turbo'), ['run', 'build', '--filter=@cep/integration...', '--output-logs=errors-only'])) {
    failed += 1;
    problems.push('build failed');
  } else {
    const integrationReport = join(resultsDir, 'integration.json');
    const integrationOk = run('integration tests', bin('vitest'), [
      'run', '--project', 'integration', '--reporter=default', '--reporter=json', `--outputFile=${integrationReport}`,
    ]);
    countVitest('integration', integrationReport, integrationOk);
  }
}

for (const problem of problems) process.stdout.write(`problem: ${problem}\n`);
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exit(failed === 0 ? 0 : 1);
