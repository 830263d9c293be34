// Throughput of a reliable memory channel: one sender that honours backpressure (waits
// for `ready`), one receiver pulling `frames()`, both in this thread. Each send copies
// the frame, so MB/s is bounded by memcpy for large frames and by per-frame overhead
// (copy allocation, iterator promise) for small ones. Prints numbers; asserts nothing.
import type { ChannelV1 } from '@cep/provider-spec';
import { memory, memoryNetwork } from '../src/index.ts';

const cases = [
  { size: 64, count: 1_000_000 },
  { size: 1024, count: 500_000 },
  { size: 64 * 1024, count: 40_000 },
];

function readyWaiter(channel: ChannelV1): () => Promise<void> {
  let wake: (() => void) | null = null;
  channel.onEvent((e) => {
    if (e.type === 'ready' && wake) {
      const w = wake;
      wake = null;
      w();
    }
  });
  return () => new Promise<void>((resolve) => (wake = resolve));
}

async function once(size: number, count: number): Promise<number> {
  const network = memoryNetwork();
  const saturn = memory({ network, peer: 'saturn', mode: 'reliable' });
  const earth = memory({ network, peer: 'earth', mode: 'reliable' });
  let accept!: (c: ChannelV1) => void;
  const accepted = new Promise<ChannelV1>((r) => (accept = r));
  await saturn.listen!({ address: 'saturn' }, (c) => accept(c));
  const local = await earth.open({ peer: 'saturn', mode: 'link', mount: 'bench', localNode: 'earth', address: 'saturn' });
  const remote = await accepted;
  const frame = new Uint8Array(size).fill(7);
  const waitReady = readyWaiter(local);
  const start = process.hrtime.bigint();
  const received = (async () => {
    let n = 0;
    for await (const f of remote.frames()) {
      if (f.length !== size) throw new Error('bad frame');
      if (++n === count) break;
    }
  })();
  for (let i = 0; i < count; i++) {
    if (local.send(frame) === 'backpressure') await waitReady();
  }
  await received;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await earth.close();
  await saturn.close();
  return seconds;
}

const pad = (s: string, n: number): string => s.padStart(n);
console.log(`${pad('frame', 7)} ${pad('frames', 10)} ${pad('frames/s', 12)} ${pad('MB/s', 9)}`);
for (const { size, count } of cases) {
  await once(size, Math.ceil(count / 10)); // warm-up
  const best = Math.min(await once(size, count), await once(size, count), await once(size, count));
  const label = size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
  const fps = count / best;
  console.log(
    `${pad(label, 7)} ${pad(count.toLocaleString('en-US'), 10)} ${pad(Math.round(fps).toLocaleString('en-US'), 12)} ${pad(((fps * size) / 1e6).toFixed(1), 9)}`,
  );
}
