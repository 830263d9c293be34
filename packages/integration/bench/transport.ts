/**
 * Transport manager throughput on @cep/provider-memory (reliable), CRC32C on: frames/s for
 * 64 B, 1 KiB and 64 KiB payloads through the whole path (encode with the mount policy, beat
 * queue, channel, pump, admission at capture, decode, handler), next to the same frames pushed
 * through a bare provider channel. Prints numbers; asserts nothing.
 * Run: npx --yes pnpm@10.34.8 --filter @cep/integration bench
 */
import { performance } from 'node:perf_hooks';
import { bytes, createTree } from '@cep/cells';
import { encodeBranch } from '@cep/serializer';
import { memory, memoryNetwork } from '@cep/provider-memory';
import { side } from '../test/support/pair.ts';

async function throughManager(size: number, frames: number): Promise<{ ms: number; encodeMs: number }> {
  const network = memoryNetwork();
  const earth = side('earth', memory({ network, peer: 'earth', mode: 'reliable', highWaterBytes: 64 << 20 }), { inboundWindow: 4096 });
  const saturn = side('saturn', memory({ network, peer: 'saturn', mode: 'reliable', highWaterBytes: 64 << 20 }), { inboundWindow: 4096 });
  let received = 0;
  saturn.manager.onFrame('link', () => void received++);
  await saturn.manager.listen('memory', 'saturn');
  const mount = earth.manager.configure({ peer: 'saturn', mode: 'link', mount: 'main', serializer: { crc32c: true, deflate: false, aead: false } });
  while (mount.state !== 'open') {
    await new Promise((r) => setImmediate(r));
    earth.runtime.step();
    saturn.runtime.step();
  }
  const tree = createTree();
  tree.set('/m/v', bytes(new Uint8Array(size).fill(7)));
  const cell = tree.get('/m')!;
  const t0 = performance.now();
  let encodeMs = 0;
  const perBeat = Math.max(1, Math.min(2000, Math.floor((8 << 20) / size)));
  for (let sent = 0; sent < frames; ) {
    const e0 = performance.now();
    for (let i = 0; i < perBeat && sent < frames; i++, sent++) mount.sendBranch(cell);
    encodeMs += performance.now() - e0;
    earth.runtime.step();
    await new Promise((r) => setImmediate(r));
    saturn.runtime.step();
  }
  while (received < frames) {
    await new Promise((r) => setImmediate(r));
    saturn.runtime.step();
  }
  const ms = performance.now() - t0;
  await earth.manager.close();
  await saturn.manager.close();
  return { ms, encodeMs };
}

async function bareChannel(frame: Uint8Array, frames: number): Promise<number> {
  const network = memoryNetwork();
  const a = memory({ network, peer: 'earth', mode: 'reliable', highWaterBytes: 64 << 20 });
  const b = memory({ network, peer: 'saturn', mode: 'reliable', highWaterBytes: 64 << 20 });
  let received = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  await b.listen!({ address: 'saturn' }, (channel) => {
    void (async () => {
      for await (const _ of channel.frames()) if (++received === frames) done();
    })();
  });
  const channel = await a.open({ peer: 'saturn', mode: 'link', mount: 'main', localNode: 'earth', address: 'saturn' });
  const t0 = performance.now();
  for (let i = 0; i < frames; i++) {
    if (channel.send(frame) === 'backpressure')
      await new Promise<void>((r) => {
        const off = channel.onEvent((e) => e.type === 'ready' && (off(), r()));
      });
  }
  await finished;
  const ms = performance.now() - t0;
  await a.close();
  await b.close();
  return ms;
}

console.log('size      frames   manager frames/s   MB/s   encode share   bare channel frames/s   manager overhead µs/frame');
for (const [size, frames] of [
  [64, 100_000],
  [1024, 50_000],
  [65536, 2_000],
] as const) {
  const tree = createTree();
  tree.set('/m/v', bytes(new Uint8Array(size).fill(7)));
  const frame = encodeBranch(tree.get('/m')!, { crc32c: true });
  await throughManager(size, Math.min(frames, 2000)); // warm-up
  const { ms, encodeMs } = await throughManager(size, frames);
  const bare = await bareChannel(frame, frames);
  const perFrameUs = ((ms - bare) * 1000) / frames;
  console.log(
    `${String(size).padEnd(9)} ${String(frames).padEnd(8)} ${Math.round(frames / (ms / 1000))
      .toLocaleString()
      .padStart(
        16,
      )} ${((frames * frame.length) / (ms / 1000) / 1e6).toFixed(0).padStart(6)} ${`${Math.round((encodeMs / ms) * 100)}%`.padStart(14)} ${Math.round(
      frames / (bare / 1000),
    )
      .toLocaleString()
      .padStart(23)} ${perFrameUs.toFixed(1).padStart(27)}`,
  );
}
