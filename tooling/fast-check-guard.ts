import fc from 'fast-check';

/**
 * Every package's tests load this first (tooling/vitest.shared.ts). A property run by fc.assert
 * is synchronous, so vitest's testTimeout cannot stop it; and a failing property whose
 * arbitrary maps many sources to one value can shrink in a cycle without end (seen: a
 * trimmed-word generator, shrink path "58:0:0:0:…"). Without this the run stalls silently until
 * tooling/progress-reporter.mjs gives up after CEP_TEST_STALL_SECONDS and names only the file.
 * With it, fast-check stops the run and reports it as a failure, with the seed, path and the
 * counterexample it had reached. The limit bounds hangs, not speed: it is far above the
 * longest property here (seconds on a quiet machine) and below the reporter's 300 s.
 */
fc.configureGlobal({ ...fc.readConfigureGlobal(), interruptAfterTimeLimit: 150_000, markInterruptAsFailure: true });
