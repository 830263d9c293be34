// A vitest reporter for CI: one line per finished test file, and a watchdog that names what hung.
//
// vitest's testTimeout cannot interrupt a test stuck in a synchronous loop (its timer never
// gets the event loop back), and a whole-step time budget fails a healthy run on a busy
// machine. So this reporter watches *progress* instead: a file that reports no event (test
// started, test finished, hook) for CEP_TEST_STALL_SECONDS (default 300 — five times the
// longest per-test timeout) is stalled. It prints which file, which test was running and for
// how long, writes the same to .test-results/stalled.txt, and ends vitest with exit code 2;
// tooling/run-tests.mjs then reaps the workers and counts the failure. A slow machine only
// makes tests slower, never silent for five minutes, so load alone cannot trip it.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const stallMs = Number(process.env.CEP_TEST_STALL_SECONDS ?? 300) * 1000;
const checkEveryMs = Math.min(15_000, Math.max(1_000, stallMs / 10));

export default class ProgressReporter {
  /** moduleId → { project, file, startedAt, lastEventAt, test, testStartedAt } */
  running = new Map();
  timer = undefined;

  onInit() {
    this.timer = setInterval(() => this.check(), checkEveryMs);
    this.timer.unref();
  }

  entry(testModule) {
    let entry = this.running.get(testModule.moduleId);
    if (entry === undefined) {
      const now = Date.now();
      entry = {
        project: testModule.project.name,
        file: relative(root, testModule.moduleId),
        startedAt: now,
        lastEventAt: now,
        test: undefined,
        testStartedAt: now,
        lastFinished: undefined,
      };
      this.running.set(testModule.moduleId, entry);
    }
    return entry;
  }

  onTestModuleStart(testModule) {
    this.entry(testModule);
  }

  onTestCaseReady(testCase) {
    const entry = this.entry(testCase.module);
    entry.lastEventAt = Date.now();
    entry.test = testCase.fullName;
    entry.testStartedAt = entry.lastEventAt;
  }

  onTestCaseResult(testCase) {
    const entry = this.entry(testCase.module);
    entry.lastEventAt = Date.now();
    entry.test = undefined;
    entry.lastFinished = testCase.fullName;
  }

  onHookStart(hook) {
    const module = hook.entity.type === 'module' ? hook.entity : hook.entity.module;
    const entry = this.entry(module);
    entry.lastEventAt = Date.now();
    entry.test = `${hook.name} of ${hook.entity.type === 'module' ? 'the file' : hook.entity.fullName}`;
    entry.testStartedAt = entry.lastEventAt;
  }

  onHookEnd(hook) {
    const module = hook.entity.type === 'module' ? hook.entity : hook.entity.module;
    const entry = this.entry(module);
    entry.lastEventAt = Date.now();
    // After a beforeEach the test itself runs on; after an afterEach its result comes next.
    entry.test = hook.entity.type === 'test' ? hook.entity.fullName : undefined;
  }

  onTestModuleEnd(testModule) {
    const entry = this.running.get(testModule.moduleId);
    this.running.delete(testModule.moduleId);
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const test of testModule.children.allTests()) {
      const state = test.result().state;
      if (state === 'passed') passed++;
      else if (state === 'failed') failed++;
      else skipped++;
    }
    const seconds = entry === undefined ? '?' : ((Date.now() - entry.startedAt) / 1000).toFixed(1);
    const file = relative(root, testModule.moduleId);
    const mark = failed > 0 || testModule.state() === 'failed' ? 'FAIL' : 'ok  ';
    const extra = skipped > 0 ? `, ${skipped} skipped` : '';
    process.stdout.write(`[progress] ${mark} ${testModule.project.name} ${file}: ${passed} passed, ${failed} failed${extra} (${seconds} s)\n`);
  }

  onTestRunEnd() {
    clearInterval(this.timer);
  }

  check() {
    const now = Date.now();
    const stalled = [...this.running.values()].filter((entry) => now - entry.lastEventAt >= stallMs);
    if (stalled.length === 0) return;
    const lines = stalled.map((entry) => {
      // A worker stuck in a synchronous loop may not have reported the start of the test it is
      // stuck in, so name the last one that finished as well.
      const what =
        entry.test !== undefined
          ? `in "${entry.test}"`
          : entry.lastFinished !== undefined
            ? `in the test or hook after "${entry.lastFinished}"`
            : 'in its first test or hook, or while loading';
      const forSeconds = Math.round((now - entry.testStartedAt) / 1000);
      return `STALLED: ${entry.project} ${entry.file} ${what}: no progress for ${forSeconds} s (limit ${stallMs / 1000} s, CEP_TEST_STALL_SECONDS)`;
    });
    for (const line of lines) process.stdout.write(`${line}\n`);
    try {
      const dir = join(root, '.test-results');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'stalled.txt'), `${lines.join('\n')}\n`);
    } catch {
      // the lines above are what matters
    }
    process.exit(2);
  }
}
