/** Shared test set-up: runtimes with a transport manager over provider-memory or provider-tcp. */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { bool, text, u64, type Tree, type Value } from '@cep/cells';
import { createRuntime, type EmittedFact, type Runtime } from '@cep/heartbeat';
import {
  createTransportManager,
  PROVIDER_SPEC_V1,
  providerError,
  type ChannelV1,
  type OpenRequestV1,
  type ProviderV1,
  type TransportManager,
} from '@cep/transport';
import { memory, memoryNetwork, type MemoryNetwork } from '@cep/provider-memory';
import { tcp } from '@cep/provider-tcp';

export const KEY = new Uint8Array(randomBytes(32));

/** Everything a test opened; `closeAll` runs in afterEach. */
const opened: Array<() => Promise<unknown>> = [];
export async function closeAll(): Promise<void> {
  for (const close of opened.splice(0).reverse()) await close().catch(() => undefined);
}

export interface Peer {
  readonly name: string;
  readonly runtime: Runtime;
  readonly tree: Tree;
  readonly manager: TransportManager;
  readonly providers: ProviderV1[];
  readonly facts: EmittedFact[];
}

/** A runtime + manager named `name` with the given providers. */
export function peer(name: string, providers: ProviderV1[], addressOf: (peer: string, provider: string) => string | undefined = (p) => p): Peer {
  const runtime = createRuntime();
  const manager = createTransportManager(runtime, { localNode: name, providers, addressOf, peerKey: () => KEY });
  opened.push(() => manager.close());
  const facts: EmittedFact[] = [];
  runtime.cei.onFact((f) => facts.push(f));
  return { name, runtime, tree: runtime.tree, manager, providers, facts };
}

/** A memory provider that needs no remote side (every send is captured). */
export function loneMemory(network: MemoryNetwork = memoryNetwork(), id = 'memory', localPeer = 'earth'): ProviderV1 {
  return memory({ network, peer: localPeer, mode: 'reliable', capture: true, id });
}

/** A provider whose dials never complete (until aborted): a mount that stays `opening`. */
// It declares aead like every real provider: a keyed mount over a provider without it does not open.
export function stallProvider(id = 'stall', caps: readonly string[] = ['reliable', 'ordered', 'aead']): ProviderV1 {
  return {
    specificationVersion: PROVIDER_SPEC_V1,
    id,
    caps,
    open: (request: OpenRequestV1) =>
      new Promise<ChannelV1>((_, reject) => request.signal?.addEventListener('abort', () => reject(providerError('OPEN_ABORTED', 'aborted')))),
    close: async () => undefined,
  } as ProviderV1;
}

export type Transport = 'memory' | 'tcp';

/** Two runtimes, earth dialling saturn, over `transport`. saturn listens. */
export async function pair(transport: Transport): Promise<{ earth: Peer; saturn: Peer }> {
  if (transport === 'memory') {
    const network = memoryNetwork();
    const earth = peer('earth', [memory({ network, peer: 'earth', mode: 'reliable' })]);
    const saturn = peer('saturn', [memory({ network, peer: 'saturn', mode: 'reliable' })]);
    await saturn.manager.listen('memory', 'saturn');
    return { earth, saturn };
  }
  const addresses = new Map<string, string>();
  const earth = peer('earth', [tcp({ localPeer: 'earth', keys: { saturn: KEY } })], (p) => addresses.get(p));
  const saturn = peer('saturn', [tcp({ localPeer: 'saturn', keys: { earth: KEY } })], (p) => addresses.get(p));
  const listener = await saturn.manager.listen('tcp', '127.0.0.1:0');
  addresses.set('saturn', listener.address);
  return { earth, saturn };
}

/**
 * earth, and a saturn that is not running yet: `startSaturn()` starts one listening at `address`
 * (again after a restart: close the old one's manager first). Over tcp the address is a loopback
 * port the OS handed out and that was closed again, so a dial before the start is refused.
 */
export interface World {
  readonly earth: Peer;
  readonly address: string;
  startSaturn(): Promise<Peer>;
}

export async function world(transport: Transport): Promise<World> {
  if (transport === 'memory') {
    const network = memoryNetwork();
    const earth = peer('earth', [memory({ network, peer: 'earth', mode: 'reliable' })]);
    return {
      earth,
      address: 'saturn',
      async startSaturn() {
        const saturn = peer('saturn', [memory({ network, peer: 'saturn', mode: 'reliable' })]);
        await saturn.manager.listen('memory', 'saturn');
        return saturn;
      },
    };
  }
  const address = await freeLoopbackAddress();
  const earth = peer('earth', [tcp({ localPeer: 'earth', keys: { saturn: KEY } })], () => address);
  return {
    earth,
    address,
    async startSaturn() {
      const saturn = peer('saturn', [tcp({ localPeer: 'saturn', keys: { earth: KEY } })], () => undefined);
      await saturn.manager.listen('tcp', address);
      return saturn;
    },
  };
}

/** A loopback `host:port` the OS chose, with nothing listening on it any more. */
async function freeLoopbackAddress(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `127.0.0.1:${port}`;
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Lets the edge run (a few event-loop turns), then steps every runtime once. */
export async function beat(...peers: Peer[]): Promise<void> {
  for (let i = 0; i < 4; i++) await turn();
  for (const p of peers) p.runtime.step();
}

/** Steps the runtimes until `check` holds (real sockets need real time); fails after `max` rounds. */
export async function until(peers: Peer[], check: () => boolean, max = 400): Promise<void> {
  for (let i = 0; i < max; i++) {
    if (check()) return;
    await beat(...peers);
    if (i > 8) await sleep(2);
  }
  throw new Error(`condition not met after ${max} beats`);
}

/** Plain JS view of a value in the tree. */
export function read(tree: Tree, path: string): string | boolean | bigint | undefined {
  const v: Value | undefined = tree.getValue(path);
  if (v === undefined) return undefined;
  return v.type === 'text' || v.type === 'bool' || v.type === 'u64' || v.type === 'i64' ? v.value : undefined;
}

/** Writes a link request's fields (a plain object: strings → text, booleans → bool, numbers → u64). */
export function writeRequest(tree: Tree, path: string, fields: Record<string, string | boolean | number | bigint>): void {
  tree.batch(() => {
    for (const [field, value] of Object.entries(fields)) {
      tree.set(`${path}/${field}`, typeof value === 'string' ? text(value) : typeof value === 'boolean' ? bool(value) : u64(BigInt(value)));
    }
  });
}

export function topics(p: Peer): string[] {
  return p.facts.map((f) => f.topic);
}
