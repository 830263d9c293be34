/**
 * The source peer of `compare.ts`, in its own OS process: builds the 100,000-cell branch,
 * serves it (mirror) and an `add` signal (invoke) over provider-tcp on loopback, and runs a
 * free-running heartbeat, timing each beat. Started by `compare.ts` with `fork`; not a test.
 */
import { digestHex, type text, u64 } from '@cep/cells';
import { createRuntime } from '@cep/heartbeat';
import { installInvoke } from '@cep/organ-invoke';
import { tcp } from '@cep/provider-tcp';
import { createTransportManager } from '@cep/transport';
import { installMirror } from '../src/index.ts';
import { BenchBeats, GROUPS, KEY, PER_GROUP, cellValueOf } from './shared.ts';

const aead = process.env.AEAD === 'on';
const partBytes = Number(process.env.PART_BYTES ?? 0) || undefined;
const beatBytes = Number(process.env.BEAT_BYTES ?? 0) || undefined;
const runtime = createRuntime();
const manager = createTransportManager(runtime, {
  localNode: 'saturn',
  providers: [tcp({ localPeer: 'saturn', keys: { earth: KEY } })],
  ...(aead ? { peerKey: () => KEY } : {}),
});
installMirror(runtime, manager, { localNode: 'saturn', ...(partBytes ? { partBytes } : {}), ...(beatBytes ? { beatBytes } : {}) });
installInvoke(runtime, manager, {}).expose('/sig/add', (call) => ({
  status: 'ok',
  result: u64((call.payload?.type === 'u64' ? call.payload.value : 0n) + 1n),
}));

const tree = runtime.tree;
tree.batch(() => {
  for (let g = 0; g < GROUPS; g++)
    for (let i = 0; i < PER_GROUP; i++) tree.set(['data', 'big', `g${g}`, `f${i}`], cellValueOf(g, i) as ReturnType<typeof text>);
});
const digest = digestHex(tree.get('/data/big')!);
const listener = await manager.listen('tcp', '127.0.0.1:0');

const beats = new BenchBeats(runtime);
let running = true;
let from = 0n;
let cpu = process.cpuUsage();
process.on('message', (message: { stop?: boolean; measure?: boolean }) => {
  if (message.measure) {
    beats.reset();
    from = process.hrtime.bigint();
    cpu = process.cpuUsage();
  }
  if (message.stop) {
    running = false;
    // The window of the mirror in this process, in µs of the monotonic clock (as CPU profiles stamp samples).
    const used = process.cpuUsage(cpu);
    process.send!({ cpuMs: (used.user + used.system) / 1000, beats: beats.summary(), window: [Number(from / 1000n), Number(process.hrtime.bigint() / 1000n)] });
  }
});
process.send!({ port: Number(listener.address.split(':').pop()), address: listener.address, digest });
while (running) await beats.step();
await manager.close();
process.exit(0);
