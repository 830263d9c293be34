/** @cep/security benchmark: decisions per second. Prints numbers; asserts nothing. */
import { performance } from 'node:perf_hooks';
import { createTree } from '@cep/cells';
import { approvePipeline, checkInvoke, declarePolicy } from '@cep/security';

const tree = createTree();
declarePolicy(tree, {
  enclaves: { earth: {}, saturn: {} },
  edges: [{ from: 'earth', to: 'saturn', budgets: { hops: 4, cpuNs: 1e9 } }],
  pipelines: [{ id: 'p', stages: [{ id: 'a', enclave: 'earth' }, { id: 'b', enclave: 'saturn' }] }],
});
approvePipeline(tree, 'p');
const meta = { pipelineId: 'p', stageId: 'b', dagRunId: 1n, hopIndex: 1 };
for (const [label, check] of [
  ['same enclave', { fromEnclave: 'earth', toEnclave: 'earth', side: 'receive' as const }],
  ['cross enclave, approved pipeline', { fromEnclave: 'earth', toEnclave: 'saturn', pipeline: meta, side: 'receive' as const }],
  ['cross enclave, undeclared edge', { fromEnclave: 'saturn', toEnclave: 'earth', pipeline: meta, side: 'receive' as const }],
] as const) {
  const n = 20_000;
  const start = performance.now();
  for (let i = 0; i < n; i++) checkInvoke(tree, check);
  const ms = performance.now() - start;
  console.log(`${label.padEnd(36)} ${(n / (ms / 1000)).toFixed(0).padStart(9)} decisions/s`);
}
