/**
 * Row c: remote calls `add(n) → n + 1` with 256 in flight (calls/s) and one at a time
 * (round trip, p50), three ways, all with both ends in this process on loopback:
 * - ours: the invoke organ over one provider-tcp mount, two runtimes stepped as fast as the
 *   loop turns (the mount's default serializer policy: crc32c, deflate, AEAD with the key), each
 *   with the housekeeping a cep-node peer does (below);
 * - a plain msgpackr request/response over a node:net socket (length-prefixed frames, ids);
 * - @grpc/grpc-js unary calls on an insecure loopback channel, messages packed with msgpackr
 *   (a hand-written service definition, so no .proto compiler is needed).
 */
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { text, u64 } from '@cep/cells';
import { createRuntime } from '@cep/heartbeat';
import { installInvoke } from '@cep/organ-invoke';
import { pruneUsage } from '@cep/security';
import { tcp } from '@cep/provider-tcp';
import { createTransportManager } from '@cep/transport';
import { pack, unpack } from 'msgpackr';
import { frameSplitter, lengthPrefixed, socketPair } from './sockets.ts';
import { now, quantile, turn } from './stats.ts';

/** A way to make one call; resolves with the result. */
type Call = (n: number) => Promise<number>;

/** What one RPC system measured. */
export interface RpcResult {
  readonly perSecond: number;
  readonly rttP50Us: number;
  readonly rttP99Us: number;
}

interface Rpc {
  readonly call: Call;
  stop(): Promise<void>;
}

/** Calls for `seconds` with `inFlight` outstanding (then the last ones finish); calls/s. */
async function throughput(call: Call, seconds: number, inFlight: number): Promise<number> {
  let next = 0;
  const t0 = now();
  const stopAt = t0 + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (now() < stopAt) {
      const n = next++;
      const r = await call(n);
      if (r !== n + 1) throw new Error(`add(${n}) answered ${r}`);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return next / ((now() - t0) / 1000);
}

/** Calls one after another for `seconds` (at least 20); round trips in µs. */
async function roundTrips(call: Call, seconds: number): Promise<number[]> {
  const out: number[] = [];
  const stopAt = now() + seconds * 1000;
  for (let i = 0; out.length < 20 || now() < stopAt; i++) {
    const t0 = now();
    await call(i);
    out.push((now() - t0) * 1000);
  }
  return out;
}

/** How far back a peer keeps its inbound log, usage records and closed dossiers (cep-node's INBOUND_LOG_BEATS). */
const HOUSEKEEPING_BEATS = 1024;

/** Ours: two runtimes, one invoke request over provider-tcp. */
async function cepInvoke(): Promise<Rpc> {
  const key = new Uint8Array(randomBytes(32));
  const addresses = new Map<string, string>();
  const make = (self: string, other: string) => {
    const runtime = createRuntime();
    const manager = createTransportManager(runtime, {
      localNode: self,
      providers: [tcp({ localPeer: self, keys: { [other]: key } })],
      addressOf: (p) => addresses.get(p),
      peerKey: () => key,
    });
    // What a cep-node peer does every 256 beats (apps/node peer.ts): forget the inbound log, the
    // per-invoke usage records and the closed OPS dossiers older than 1,024 beats. Without it a
    // runtime holds every call it ever made, and the bench measures a growing heap's GC.
    runtime.onCommit((beat) => {
      if (beat % 256 === 0 && beat > HOUSEKEEPING_BEATS) {
        runtime.clearInboundLog(beat - HOUSEKEEPING_BEATS);
        pruneUsage(runtime.tree, beat - HOUSEKEEPING_BEATS);
        runtime.ops.prune(beat - HOUSEKEEPING_BEATS);
      }
    });
    // Room for every call the bench keeps in flight on the one request.
    return { runtime, manager, invoke: installInvoke(runtime, manager, { maxPending: 1 << 16 }) };
  };
  const earth = make('earth', 'saturn');
  const saturn = make('saturn', 'earth');
  addresses.set('saturn', (await saturn.manager.listen('tcp', '127.0.0.1:0')).address);
  saturn.invoke.expose('/sig/add', (call) => ({ status: 'ok', result: u64((call.payload?.type === 'u64' ? call.payload.value : 0n) + 1n) }));
  for (const [field, value] of [
    ['peer', 'saturn'],
    ['mount', 'main'],
    ['local_node', 'earth'],
  ] as const)
    earth.runtime.tree.set(`/net/organs/invoke/requests/bench/${field}`, text(value));
  let running = true;
  const loop = (async () => {
    while (running) {
      earth.runtime.step();
      saturn.runtime.step();
      await turn();
    }
  })();
  const deadline = now() + 30_000;
  while (earth.runtime.tree.getValue('/net/organs/invoke/requests/bench/state')?.value !== 'active') {
    if (now() > deadline) throw new Error('invoke bench: the request did not go active in 30 s');
    await turn();
  }
  return {
    call: async (n) => {
      const id = earth.invoke.submit({ request: 'bench', signal: '/sig/add', payload: u64(BigInt(n)), timeoutBeats: 1_000_000 });
      const outcome = await earth.invoke.result(id);
      if (outcome.status !== 'ok' || outcome.result?.type !== 'u64') throw new Error(`invoke ${outcome.status}: ${outcome.note ?? ''}`);
      return Number(outcome.result.value);
    },
    stop: async () => {
      running = false;
      await loop;
      await earth.manager.close();
      await saturn.manager.close();
    },
  };
}

/** The anchor: msgpackr messages `{ i, s, p }` → `{ i, r }`, length-prefixed on a socket pair. */
async function msgpackrRpc(): Promise<Rpc> {
  const { client, server, close } = await socketPair();
  server.on(
    'data',
    frameSplitter((frame) => {
      const req = unpack(frame) as { i: number; s: string; p: number };
      if (req.s !== '/sig/add') throw new Error('unknown signal');
      server.write(lengthPrefixed(pack({ i: req.i, r: req.p + 1 })));
    }),
  );
  const pending = new Map<number, (r: number) => void>();
  client.on(
    'data',
    frameSplitter((frame) => {
      const res = unpack(frame) as { i: number; r: number };
      const done = pending.get(res.i);
      pending.delete(res.i);
      done?.(res.r);
    }),
  );
  let ids = 0;
  return {
    call: (n) =>
      new Promise<number>((resolve) => {
        const i = ids++;
        pending.set(i, resolve);
        client.write(lengthPrefixed(pack({ i, s: '/sig/add', p: n })));
      }),
    stop: close,
  };
}

/** The peer a TypeScript user would pick: grpc-js unary calls, msgpackr-serialised messages. */
async function grpcRpc(): Promise<Rpc> {
  const method = {
    path: '/cep.bench.Calc/Add',
    requestStream: false,
    responseStream: false,
    requestSerialize: (v: { s: string; p: number }) => pack(v),
    requestDeserialize: (b: Buffer) => unpack(b) as { s: string; p: number },
    responseSerialize: (v: { r: number }) => pack(v),
    responseDeserialize: (b: Buffer) => unpack(b) as { r: number },
  };
  const service = { add: method } satisfies grpc.ServiceDefinition;
  const server = new grpc.Server();
  server.addService(service, {
    add: (call: grpc.ServerUnaryCall<{ s: string; p: number }, { r: number }>, callback: grpc.sendUnaryData<{ r: number }>) =>
      callback(null, { r: call.request.p + 1 }),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, p) => (error ? reject(error) : resolve(p))),
  );
  const Client = grpc.makeGenericClientConstructor(service, 'Calc');
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    add(req: { s: string; p: number }, callback: (error: grpc.ServiceError | null, res?: { r: number }) => void): grpc.ClientUnaryCall;
  };
  return {
    call: (n) => new Promise<number>((resolve, reject) => client.add({ s: '/sig/add', p: n }, (error, res) => (error ? reject(error) : resolve(res!.r)))),
    stop: async () => {
      client.close();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    },
  };
}

/** The three systems, in this order. */
export const RPC_SYSTEMS = { ours: cepInvoke, msgpackr: msgpackrRpc, grpc: grpcRpc } as const;

/** Unmeasured passes of both phases before the measured one (see measureRpc). */
const WARM_PASSES = 2;

/** {@link measureRpc} of one of {@link RPC_SYSTEMS} by name (what compare.ts runs in a fresh process per run). */
export function measureRpcOf(name: keyof typeof RPC_SYSTEMS, seconds: number, inFlight: number): Promise<RpcResult> {
  return measureRpc(RPC_SYSTEMS[name], seconds, inFlight);
}

/** Two unmeasured passes, then calls/s with `inFlight` outstanding for `seconds`, and one-at-a-time round trips for half as long. */
export async function measureRpc(make: () => Promise<Rpc>, seconds: number, inFlight: number): Promise<RpcResult> {
  const rpc = await make();
  try {
    // Each run is a fresh process (compare.ts), so both phases are first run unmeasured, twice:
    // measured in one process, our round trip p50 read 1,136 µs on a first pass, 590 on a second
    // and 488 on a third (the JIT still settling), so one short warm-up measured a cold peer.
    for (let i = 0; i < WARM_PASSES; i++) {
      await throughput(rpc.call, seconds, inFlight);
      await roundTrips(rpc.call, seconds / 2);
    }
    const perSecond = await throughput(rpc.call, seconds, inFlight);
    const rtts = await roundTrips(rpc.call, seconds / 2);
    return { perSecond, rttP50Us: quantile(rtts, 0.5), rttP99Us: quantile(rtts, 0.99) };
  } finally {
    await rpc.stop();
  }
}
