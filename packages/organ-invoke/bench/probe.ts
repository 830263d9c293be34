// Where a one-at-a-time round trip over tcp goes: loop turns and beats per call, and what an
// idle `runtime.step()` costs on each side once the request is active (no call in flight).
// Prints numbers, asserts nothing; the wall clock is read only here.
// PROF=<dir> writes CPU profiles of the two measured phases.
// Run: npx tsx --conditions=@cep/source packages/organ-invoke/bench/probe.ts
import { randomBytes } from 'node:crypto';
import { text, u64 } from '@cep/cells';
import { createRuntime } from '@cep/heartbeat';
import { tcp } from '@cep/provider-tcp';
import { createTransportManager } from '@cep/transport';
import { installInvoke } from '../src/index.ts';

// BREAKDOWN=1: wall µs spent in a few methods during the one-at-a-time phase (wrapped here).
const spent = new Map<string, number>();
if (process.env.BREAKDOWN === '1') {
  const { MountImpl } = await import('../../transport/src/mount.ts');
  const { GmacLink } = await import('../../stream-session/src/gmac-link.ts');
  const { Inbound } = await import('../../transport/src/inbound.ts');
  const { Caller } = await import('../src/caller.ts');
  const { Callee } = await import('../src/callee.ts');
  const wrap = (proto: any, method: string, label: string): void => {
    const inner = proto[method];
    proto[method] = function (this: unknown, ...args: unknown[]) {
      const t = process.hrtime.bigint();
      try {
        return inner.apply(this, args);
      } finally {
        spent.set(label, (spent.get(label) ?? 0) + Number(process.hrtime.bigint() - t) / 1e3);
      }
    };
  };
  const methods: [object, string, string][] = [
    [MountImpl.prototype, 'encodeBranch', 'serializer encode'],
    [MountImpl.prototype, 'sendFrame', 'mount sendFrame (after encode)'],
    [GmacLink.prototype, 'flushStaging', 'gmac flushStaging (tag + socket write)'],
    [GmacLink.prototype, 'pump', 'gmac pump (verify + push input)'],
    [Inbound.prototype, 'deliver', 'inbound deliver (decode + organ)'],
    [Caller.prototype, 'submit', 'caller submit'],
    [Caller.prototype, 'flush', 'caller flush (incl. encode)'],
    [Caller.prototype, 'reply', 'caller reply → outcome'],
    [Callee.prototype, 'call', 'callee call'],
    [Callee.prototype, 'flush', 'callee flush (incl. encode)'],
  ];
  if (process.env.BREAKDOWN_DEEP === '1') {
    // Finer: the caller's bookkeeping (prototype methods only; the OPS dossier is wrapped per runtime below).
    methods.push(
      [Caller.prototype, 'start', '  caller start (record, dossier, ledger, check)'],
      [Caller.prototype, 'checkArgs', '  caller checkArgs'],
      [Caller.prototype, 'entryFor', '  caller entryFor'],
      [Caller.prototype, 'complete', '  caller complete (record, dossier close, retain)'],
      [Caller.prototype, 'send', '  caller send (packed, encode, sent state)'],
      [Caller.prototype, 'retain', '    caller retain'],
    );
  }
  for (const [proto, method, label] of methods) wrap(proto, method, label);
}

// PROF=<dir>: a CPU profile of each measured phase (tput.cpuprofile, rtt.cpuprofile), warm-up excluded.
const profDir = process.env.PROF;
const inspector = profDir === undefined ? undefined : new (await import('node:inspector/promises')).Session();
inspector?.connect();
const profile = async (phase: 'start' | string): Promise<void> => {
  if (inspector === undefined) return;
  if (phase === 'start') {
    await inspector.post('Profiler.enable');
    await inspector.post('Profiler.start');
    return;
  }
  const { profile: p } = await inspector.post('Profiler.stop');
  (await import('node:fs')).writeFileSync(`${profDir}/${phase}.cpuprofile`, JSON.stringify(p));
};

const KEY = new Uint8Array(randomBytes(32));
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const now = (): number => Number(process.hrtime.bigint()) / 1e3;
const cpuUs = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

const addresses = new Map<string, string>();
const side = (self: string, other: string) => {
  const runtime = createRuntime();
  const manager = createTransportManager(runtime, {
    localNode: self,
    providers: [tcp({ localPeer: self, keys: { [other]: KEY } })],
    addressOf: (p) => addresses.get(p),
    peerKey: () => KEY,
  });
  if (process.env.BREAKDOWN_DEEP === '1') {
    const ops = runtime.ops as unknown as Record<string, (...a: unknown[]) => unknown>;
    for (const m of ['start', 'setState', 'close']) {
      const inner = ops[m]!;
      ops[m] = (...args: unknown[]) => {
        const t = process.hrtime.bigint();
        try {
          return inner.apply(runtime.ops, args);
        } finally {
          spent.set(`    ops.${m}`, (spent.get(`    ops.${m}`) ?? 0) + Number(process.hrtime.bigint() - t) / 1e3);
        }
      };
    }
  }
  return { runtime, manager, invoke: installInvoke(runtime, manager, { maxPending: 1 << 16 }) };
};
const earth = side('earth', 'saturn');
const saturn = side('saturn', 'earth');
addresses.set('saturn', (await saturn.manager.listen('tcp', '127.0.0.1:0')).address);
saturn.invoke.expose('/sig/add', (call) => ({ status: 'ok', result: u64((call.payload?.type === 'u64' ? call.payload.value : 0n) + 1n) }));
for (const [f, v] of [
  ['peer', 'saturn'],
  ['mount', 'main'],
  ['local_node', 'earth'],
] as const)
  earth.runtime.tree.set(`/net/organs/invoke/requests/bench/${f}`, text(v));

let turns = 0;
let earthStepUs = 0;
let saturnStepUs = 0;
let running = true;
const loop = (async () => {
  while (running) {
    let t = now();
    earth.runtime.step();
    earthStepUs += now() - t;
    t = now();
    saturn.runtime.step();
    saturnStepUs += now() - t;
    turns++;
    await turn();
  }
})();
while (earth.runtime.tree.getValue('/net/organs/invoke/requests/bench/state')?.value !== 'active') await turn();

const call = async (n: number): Promise<void> => {
  const id = earth.invoke.submit({ request: 'bench', signal: '/sig/add', payload: u64(BigInt(n)), timeoutBeats: 1_000_000 });
  const o = await earth.invoke.result(id);
  if (o.status !== 'ok') throw new Error(o.status);
};
for (let i = 0; i < 2000; i++) await call(i); // warm-up

if (process.env.MODE === 'tput') {
  // 256 in flight for SECONDS: calls/s and beats per call.
  const seconds = Number(process.env.SECONDS ?? 3);
  let next = 0;
  const b0 = earth.runtime.beat;
  await profile('start');
  const c0 = cpuUs();
  const t0 = now();
  const stopAt = t0 + seconds * 1e6;
  const worker = async (): Promise<void> => {
    while (now() < stopAt) await call(next++);
  };
  await Promise.all(Array.from({ length: 256 }, worker));
  const s = (now() - t0) / 1e6;
  await profile('tput');
  console.log(
    `256 in flight: ${Math.round(next / s)} calls/s, ${(next / (earth.runtime.beat - b0)).toFixed(1)} calls/beat, CPU ${((cpuUs() - c0) / next).toFixed(1)} µs/call (both ends)`,
  );
}
const N = Number(process.env.N ?? 3000);
spent.clear();
// `cpu`: the process's CPU time over each round trip. With the loop always stepping it is the wall
// time minus what the OS scheduler took away, so it moves less with the machine's load.
await profile('start');
const perCall = { turns: [] as number[], us: [] as number[], cpu: [] as number[], earth: [] as number[], saturn: [] as number[] };
for (let i = 0; i < N; i++) {
  const t0 = turns;
  const e0 = earthStepUs;
  const s0 = saturnStepUs;
  const w0 = now();
  const c0 = cpuUs();
  await call(i);
  perCall.cpu.push(cpuUs() - c0);
  perCall.us.push(now() - w0);
  perCall.turns.push(turns - t0);
  perCall.earth.push(earthStepUs - e0);
  perCall.saturn.push(saturnStepUs - s0);
}
await profile('rtt');
for (const [label, us] of [...spent].sort((a, b) => b[1] - a[1])) console.log(`  ${label}: ${(us / N).toFixed(1)} µs/call`);
// Idle: nothing in flight, the loop keeps stepping.
const idleT0 = turns;
const idleE = earthStepUs;
const idleS = saturnStepUs;
const idleW = now();
while (now() - idleW < 1e6) await new Promise((r) => setTimeout(r, 50));
const idleTurns = turns - idleT0;
running = false;
await loop;
await earth.manager.close();
await saturn.manager.close();
console.log(
  `load ${(await import('node:os'))
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
console.log(
  `one at a time, ${N} calls: RTT p50 ${median(perCall.us).toFixed(0)} µs (CPU ${median(perCall.cpu).toFixed(0)} µs), loop turns p50 ${median(perCall.turns)}, step µs in RTT p50 earth ${median(perCall.earth).toFixed(0)} saturn ${median(perCall.saturn).toFixed(0)}`,
);
console.log(
  `idle: ${idleTurns} turns/s, step µs earth ${((earthStepUs - idleE) / idleTurns).toFixed(1)} saturn ${((saturnStepUs - idleS) / idleTurns).toFixed(1)}`,
);
