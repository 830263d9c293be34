/** Two runtimes with transport managers and invoke organs, over provider-memory or provider-tcp. */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { text, type Cell, type Tree, type Value } from '@cep/cells';
import { createRuntime, type EmittedFact, type Runtime } from '@cep/heartbeat';
import { installInvoke, type InvokeOptions, type InvokeOrgan } from '@cep/organ-invoke';
import { memory, memoryHooks, memoryNetwork } from '@cep/provider-memory';
import { tcp } from '@cep/provider-tcp';
import { encodeBranch, type SerializerPolicy } from '@cep/serializer';
import { createTransportManager, deriveMountKey, type ProviderV1, type TransportManager } from '@cep/transport';

export const KEY = new Uint8Array(randomBytes(32));
export const REQ = '/net/organs/invoke/requests';

const opened: Array<() => Promise<unknown>> = [];
/** Closes every manager a test made (afterEach). */
export async function closeAll(): Promise<void> {
  for (const close of opened.splice(0).reverse()) await close().catch(() => undefined);
}

export interface Peer {
  readonly name: string;
  readonly runtime: Runtime;
  readonly tree: Tree;
  readonly manager: TransportManager;
  readonly provider: ProviderV1;
  readonly facts: EmittedFact[];
  invoke?: InvokeOrgan;
}

export function peer(name: string, provider: ProviderV1, addressOf: (peer: string) => string | undefined, peerKey = true): Peer {
  const runtime = createRuntime();
  const manager = createTransportManager(runtime, {
    localNode: name,
    providers: [provider],
    addressOf: (p) => addressOf(p),
    ...(peerKey ? { peerKey: () => KEY } : {}),
  });
  opened.push(() => manager.close());
  const facts: EmittedFact[] = [];
  runtime.cei.onFact((f) => facts.push(f));
  return { name, runtime, tree: runtime.tree, manager, provider, facts };
}

export type Transport = 'memory' | 'tcp';

export interface Pair {
  readonly transport: Transport;
  readonly earth: Peer & { invoke: InvokeOrgan };
  readonly saturn: Peer;
  /** Installs invoke on saturn (the accepting side). */
  serve(options?: InvokeOptions): InvokeOrgan;
  /** Sends a hand-made branch to saturn's invoke mount `mount`, bypassing earth's organ (a forged frame). */
  forge(cell: Cell, mount?: string): Promise<void>;
  /** Sends already encoded bytes to saturn's invoke mount `mount` (e.g. the same frame twice: a replay). */
  forgeBytes(bytes: Uint8Array, mount?: string): Promise<void>;
  /** The encoding saturn's accepted invoke mount `mount` reads. */
  policy(mount?: string): SerializerPolicy;
}

/** earth (with an invoke request `to_saturn` → saturn/main, active) and saturn (listening). */
export async function pair(transport: Transport, earthOptions: InvokeOptions = {}): Promise<Pair> {
  let earth: Peer;
  let saturn: Peer;
  if (transport === 'memory') {
    const network = memoryNetwork();
    earth = peer('earth', memory({ network, peer: 'earth', mode: 'reliable' }), (p) => p);
    saturn = peer('saturn', memory({ network, peer: 'saturn', mode: 'reliable' }), (p) => p);
    await saturn.manager.listen('memory', 'saturn');
  } else {
    const addresses = new Map<string, string>();
    earth = peer('earth', tcp({ localPeer: 'earth', keys: { saturn: KEY } }), (p) => addresses.get(p));
    saturn = peer('saturn', tcp({ localPeer: 'saturn', keys: { earth: KEY } }), (p) => addresses.get(p));
    const listener = await saturn.manager.listen('tcp', '127.0.0.1:0');
    addresses.set('saturn', listener.address);
  }
  earth.invoke = installInvoke(earth.runtime, earth.manager, earthOptions);
  request(earth.tree, 'to_saturn', { peer: 'saturn', mount: 'main', local_node: 'earth' });
  await until([earth, saturn], () => earth.tree.getValue(`${REQ}/to_saturn/state`)?.value === 'active');
  const e = earth as Peer & { invoke: InvokeOrgan };
  // Both providers advertise crc32c, deflate and aead, and both peers hold the key: the accepted
  // mount reads frames sealed with the per-mount key.
  const policy = (mount = 'main'): SerializerPolicy => ({
    crc32c: true,
    deflate: true,
    aead: { mode: 'xchacha20poly1305', key: deriveMountKey(KEY, 'invoke', mount) },
  });
  const send = async (bytes: Uint8Array, mount = 'main'): Promise<void> => {
    if (transport === 'memory') {
      // Straight into saturn's accepted channel, as if earth had sent it.
      const hooks = memoryHooks(saturn.provider);
      const channel = hooks.channels().find((c) => c.info.mode === 'invoke' && c.info.mount === mount);
      if (channel === undefined) throw new Error(`saturn has no accepted invoke channel ${mount}`);
      hooks.inject(channel, bytes);
    } else {
      // Through earth's raw mount (under the organ): the channel is authentic, the frame is not earth's organ's.
      e.manager.get('saturn', 'invoke', mount)!.sendFrame(bytes);
    }
  };
  return {
    transport,
    earth: e,
    saturn,
    serve: (options = {}) => (saturn.invoke = installInvoke(saturn.runtime, saturn.manager, options)),
    forge: (cell, mount) => send(encodeBranch(cell, policy(mount)), mount),
    forgeBytes: send,
    policy,
  };
}

/**
 * earth with the invoke organ and a request `to_saturn` (saturn/main), and a saturn that is not
 * running yet: `startSaturn()` starts one (invoke installed) listening at `address`; after a
 * restart (close the old manager first) it listens there again. Over tcp the address is a
 * loopback port the OS handed out and that was closed again, so a dial before the start is refused.
 */
export interface World {
  readonly earth: Peer & { invoke: InvokeOrgan };
  startSaturn(options?: InvokeOptions): Promise<Peer & { invoke: InvokeOrgan }>;
}

export async function world(transport: Transport, earthOptions: InvokeOptions = {}): Promise<World> {
  let earth: Peer;
  let start: () => Promise<Peer>;
  if (transport === 'memory') {
    const network = memoryNetwork();
    earth = peer('earth', memory({ network, peer: 'earth', mode: 'reliable' }), (p) => p);
    start = async () => {
      const saturn = peer('saturn', memory({ network, peer: 'saturn', mode: 'reliable' }), (p) => p);
      await saturn.manager.listen('memory', 'saturn');
      return saturn;
    };
  } else {
    const server = createServer();
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
    const address = `127.0.0.1:${(server.address() as { port: number }).port}`;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    earth = peer('earth', tcp({ localPeer: 'earth', keys: { saturn: KEY } }), () => address);
    start = async () => {
      const saturn = peer('saturn', tcp({ localPeer: 'saturn', keys: { earth: KEY } }), () => undefined);
      await saturn.manager.listen('tcp', address);
      return saturn;
    };
  }
  earth.invoke = installInvoke(earth.runtime, earth.manager, earthOptions);
  request(earth.tree, 'to_saturn', { peer: 'saturn', mount: 'main', local_node: 'earth' });
  return {
    earth: earth as Peer & { invoke: InvokeOrgan },
    async startSaturn(options = {}) {
      const saturn = await start();
      saturn.invoke = installInvoke(saturn.runtime, saturn.manager, options);
      return saturn as Peer & { invoke: InvokeOrgan };
    },
  };
}

/** Writes a request's text fields. */
export function request(tree: Tree, id: string, fields: Record<string, string>): void {
  tree.batch(() => {
    for (const [field, value] of Object.entries(fields)) tree.set(`${REQ}/${id}/${field}`, text(value));
  });
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Lets the edge run, then steps every runtime once. */
export async function beat(...peers: Peer[]): Promise<void> {
  for (let i = 0; i < 4; i++) await turn();
  for (const p of peers) p.runtime.step();
}

/** Steps until `check` holds (real sockets need real time); throws after `max` rounds. */
export async function until(peers: Peer[], check: () => boolean, max = 400): Promise<void> {
  for (let i = 0; i < max; i++) {
    if (check()) return;
    await beat(...peers);
    if (i > 8) await sleep(2);
  }
  throw new Error(`condition not met after ${max} beats`);
}

/** Plain view of a value cell. */
export function read(tree: Tree, path: string): string | boolean | bigint | undefined {
  const v: Value | undefined = tree.getValue(path);
  return v === undefined || v.type === 'bytes' || v.type === 'raw' ? undefined : v.value;
}

export function topics(p: Peer): string[] {
  return p.facts.map((f) => f.topic);
}
