/**
 * @cep/security benchmark: decisions per second. Prints numbers; asserts nothing.
 *
 * Run (from the repository root):
 *   npx tsx --conditions=@cep/source packages/security/bench/run.ts [--baseline <checkout>]
 * `--baseline` times the `checkInvoke` of another checkout of this repository too, on the
 * same tree, in interleaved rounds (median of 5), and prints before/after ratios.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createTree } from '@cep/cells';
import { approvePipeline, checkInvoke, declarePolicy } from '@cep/security';

const args = process.argv.slice(2);
const at = args.indexOf('--baseline');
const baseline =
  at < 0 ? undefined : ((await import(resolve(args[at + 1]!, 'packages/security/src/index.ts'))) as { checkInvoke: typeof checkInvoke }).checkInvoke;

const tree = createTree();
declarePolicy(tree, {
  enclaves: { earth: {}, saturn: {} },
  edges: [{ from: 'earth', to: 'saturn', budgets: { hops: 4, cpuNs: 1e9 } }],
  pipelines: [
    {
      id: 'p',
      stages: [
        { id: 'a', enclave: 'earth' },
        { id: 'b', enclave: 'saturn' },
      ],
    },
  ],
});
approvePipeline(tree, 'p');
const meta = { pipelineId: 'p', stageId: 'b', dagRunId: 1n, hopIndex: 1 };
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
console.log(`load average: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
for (const [label, check] of [
  ['same enclave', { fromEnclave: 'earth', toEnclave: 'earth', side: 'receive' as const }],
  ['cross enclave, approved pipeline', { fromEnclave: 'earth', toEnclave: 'saturn', pipeline: meta, side: 'receive' as const }],
  ['cross enclave, undeclared edge', { fromEnclave: 'saturn', toEnclave: 'earth', pipeline: meta, side: 'receive' as const }],
] as const) {
  const rate = (fn: typeof checkInvoke, n: number): number => {
    const start = performance.now();
    for (let i = 0; i < n; i++) fn(tree, check);
    return n / ((performance.now() - start) / 1000);
  };
  const ours: number[] = [];
  const before: number[] = [];
  for (let round = 0; round < 5; round++) {
    ours.push(rate(checkInvoke, 20_000));
    if (baseline !== undefined) before.push(rate(baseline, 2_000));
  }
  const line = `${label.padEnd(36)} ${median(ours).toFixed(0).padStart(9)} decisions/s`;
  console.log(
    baseline === undefined ? line : `${line}   before ${median(before).toFixed(0).padStart(7)}/s   ${(median(ours) / median(before)).toFixed(1)}× faster`,
  );
}
