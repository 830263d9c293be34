/**
 * What one snapshot's parts cost to make and read, by content form and serializer policy, in
 * one process (no sockets, no beats): the bench's 100,001-cell branch (1,000 dictionaries × 99
 * values, the demo's `sky` shape) packed into parts as the source packs them, each part encoded
 * as its bundle frame and decoded and read back as the receiver does. Prints bytes on the wire
 * and CPU ms per side (medians of `RUNS`, default 5); asserts nothing. Options: `RUNS`,
 * `PART_BYTES` (default 64 KiB, the source's default).
 *
 * What it answers: how much the packed form saves on each side, and whether deflate pays for
 * its CPU on a mirror mount (loopback and LAN links carry the extra bytes in less time than
 * zlib takes to save them).
 */
import { cpuUsage } from 'node:process';
import { createTree, text, u64, type Tree } from '@cep/cells';
import { decodeBranch, encodeBranch, type SerializerPolicy } from '@cep/serializer';
import { buildBundlePart, readMessage } from '../src/message.ts';
import { packOps, type PackedPart } from '../src/pack.ts';

const RUNS = Number(process.env.RUNS ?? 5);
const PART_BYTES = Number(process.env.PART_BYTES ?? 64 << 10);
const KEY = new Uint8Array(32).fill(7);

function sky(): Tree {
  const tree = createTree();
  tree.batch(() => {
    for (let g = 0; g < 1000; g++)
      for (let i = 0; i < 99; i++) tree.set(`/data/sky/${g}/${i}`, i % 2 === 0 ? text(`star ${g * 100 + i}`) : u64(BigInt((g * 100 + i) * 7919)));
  });
  return tree;
}

const cpuMs = (from: NodeJS.CpuUsage): number => {
  const d = cpuUsage(from);
  return (d.user + d.system) / 1000;
};
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function run(tree: Tree, packed: boolean, policy: SerializerPolicy): { bytes: number; parts: number; source: number; receiver: number } {
  const sources: number[] = [];
  const receivers: number[] = [];
  let bytes = 0;
  let parts = 0;
  for (let r = 0; r < RUNS; r++) {
    const t0 = cpuUsage();
    const branch = tree.get('/data/sky')!;
    const packedParts: PackedPart[] = packOps([{ op: 'put', path: [], cell: branch }], PART_BYTES, undefined, packed).parts;
    const frames = packedParts.map((p, i) =>
      encodeBranch(
        buildBundlePart({ epoch: 'e', seq: 1, part: i + 1, parts: i === packedParts.length - 1 ? packedParts.length : 0, firstBeat: 1, lastBeat: 1 }, p.ops),
        policy,
      ),
    );
    sources.push(cpuMs(t0));
    const t1 = cpuUsage();
    let cells = 0;
    for (const frame of frames) {
      const message = readMessage(decodeBranch(frame, policy).root);
      if (typeof message === 'string' || message.kind !== 'bundle') throw new Error(`not a bundle: ${String(message)}`);
      cells += message.ops.length;
    }
    receivers.push(cpuMs(t1));
    if (cells === 0) throw new Error('no ops read');
    bytes = frames.reduce((n, f) => n + f.length, 0);
    parts = frames.length;
  }
  return { bytes, parts, source: median(sources), receiver: median(receivers) };
}

const tree = sky();
const aead = { mode: 'xchacha20poly1305', key: KEY } as const;
const rows: Array<[string, boolean, SerializerPolicy]> = [
  ['records, deflate', false, { crc32c: true, deflate: true }],
  ['records, plain', false, { crc32c: true }],
  ['packed, deflate', true, { crc32c: true, deflate: true }],
  ['packed, plain', true, { crc32c: true }],
  ['records, AEAD, deflate', false, { crc32c: true, deflate: true, aead }],
  ['records, AEAD', false, { crc32c: true, aead }],
  ['packed, AEAD, deflate', true, { crc32c: true, deflate: true, aead }],
  ['packed, AEAD', true, { crc32c: true, aead }],
];
console.log(`100,001 cells, parts of ~${PART_BYTES} estimated bytes, CPU ms medians of ${RUNS} (encode = pack + encode; decode = decode + read)`);
console.log(`${'content, policy'.padEnd(26)}${'parts'.padStart(6)}${'bytes'.padStart(12)}${'encode ms'.padStart(11)}${'decode ms'.padStart(11)}`);
for (const [label, packed, policy] of rows) {
  const r = run(tree, packed, policy);
  console.log(
    `${label.padEnd(26)}${String(r.parts).padStart(6)}${r.bytes.toLocaleString('en-US').padStart(12)}${r.source.toFixed(0).padStart(11)}${r.receiver.toFixed(0).padStart(11)}`,
  );
}
