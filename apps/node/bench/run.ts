/**
 * What a peer's edges cost: rendering a large branch as JSON for /net, a /metrics
 * scrape over many mounts, and an empty @cep/heartbeat beat (the floor under every peer beat).
 * Prints a table; asserts nothing.
 */
import { bool, createTree, text, u64 } from '@cep/cells';
import { createRuntime } from '@cep/heartbeat';
import { createPeerMetrics } from '../src/metrics.ts';
import { branchToJson } from '../src/tree-json.ts';

function time(label: string, unit: string, count: number, fn: () => unknown): { label: string; result: string } {
  fn(); // warm
  const t0 = performance.now();
  fn();
  const ms = performance.now() - t0;
  return { label, result: `${((count / ms) * 1000).toFixed(0)} ${unit}/s (${ms.toFixed(1)} ms for ${count})` };
}

const rows: { label: string; result: string }[] = [];

const tree = createTree();
const CELLS = 100_000;
for (let i = 0; i < CELLS; i++) tree.set(`/data/sky/b${i % 100}/c${i}`, i % 2 ? u64(i) : text(`cell ${i}`));
rows.push(time('/net JSON of a 100k-cell branch (branchToJson + stringify)', 'cells', CELLS, () => JSON.stringify(branchToJson(tree.get('/data/sky')!))));

const MOUNTS = 1000;
const telemetry = createTree();
for (let i = 0; i < MOUNTS; i++) {
  const base = `/net/telemetry/p${i % 50}/m${i}`;
  for (const f of ['ready_count', 'bp_count', 'fatal_count', 'frame_count']) telemetry.set(`${base}/${f}`, u64(i));
  telemetry.set(`${base}/bp_flag`, bool(i % 3 === 0));
}
const metrics = createPeerMetrics({ node: 'earth', tree: telemetry, beat: () => 0 });
const scrapes = 20;
const t0 = performance.now();
for (let i = 0; i < scrapes; i++) await metrics.text();
const scrapeMs = (performance.now() - t0) / scrapes;
rows.push({ label: `/metrics scrape over ${MOUNTS} mounts (5 series each)`, result: `${scrapeMs.toFixed(2)} ms per scrape` });

const runtime = createRuntime();
const BEATS = 1_000_000;
rows.push(
  time('@cep/heartbeat step() with nothing registered (the floor under a peer beat)', 'beats', BEATS, () => {
    for (let i = 0; i < BEATS; i++) runtime.step();
  }),
);

console.table(rows);
