import { cepProject } from '../../tooling/vitest.shared.ts';

// A test may start several processes, each bounded by the harness's BOUNDS (which fail with
// the peers' output); the test timeout sits above them so the readable failure comes first.
export default cepProject('integration', { testTimeout: 45_000, hookTimeout: 30_000 });
