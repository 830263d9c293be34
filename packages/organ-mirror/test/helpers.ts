/**
 * Two runtimes (earth receives, saturn serves) on one memory network or on loopback TCP, a
 * beat driver, request writers and readers.
 */
import { digestHex, text, u64, type Tree, type Value } from '@cep/cells';
import { createRuntime, type EmittedFact, type Runtime } from '@cep/heartbeat';
import { installMirror, type ApplyEvent, type MirrorOptions, type MirrorOrgan, type SealEvent } from '@cep/organ-mirror';
import { memory, memoryHooks, memoryNetwork, type MemoryNetwork } from '@cep/provider-memory';
import { tcp } from '@cep/provider-tcp';
import { createTransportManager, type TransportManager } from '@cep/transport';
import type { ChannelV1, ProviderV1 } from '@cep/transport/provider';

export const KEY = new Uint8Array(32).fill(7);

export interface Node {
  readonly peer: string;
  readonly runtime: Runtime;
  readonly tree: Tree;
  readonly manager: TransportManager;
  readonly provider: ProviderV1;
  readonly mirror: MirrorOrgan;
  readonly facts: EmittedFact[];
  readonly applies: ApplyEvent[];
  readonly seals: SealEvent[];
}

export interface Pair {
  readonly earth: Node;
  readonly saturn: Node;
  /** Runs `n` beats on both runtimes (earth first), letting the providers deliver in between. */
  beats(n?: number): Promise<void>;
  /** Runs beats until `done` holds; fails after `limit` beats. */
  until(done: () => boolean, limit?: number): Promise<number>;
  close(): Promise<void>;
}

export async function settle(real = false): Promise<void> {
  for (let i = 0; i < 6; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  if (real) await new Promise<void>((resolve) => setTimeout(resolve, 1));
}

/** One runtime with its manager (addresses from {@link setAddress}) and the mirror organ installed. */
export function node(peer: string, provider: ProviderV1, options: MirrorOptions): Node {
  const runtime = createRuntime();
  const manager = createTransportManager(runtime, { localNode: peer, providers: [provider], addressOf: (p) => addresses.get(p), peerKey: () => KEY });
  const applies: ApplyEvent[] = [];
  const seals: SealEvent[] = [];
  const mirror = installMirror(runtime, manager, {
    localNode: peer,
    ...options,
    onApply: (e) => {
      applies.push(e);
      options.onApply?.(e);
    },
    onSeal: (e) => {
      seals.push(e);
      options.onSeal?.(e);
    },
  });
  const facts: EmittedFact[] = [];
  runtime.cei.onFact((f) => facts.push(f));
  return { peer, runtime, tree: runtime.tree, manager, provider, mirror, facts, applies, seals };
}

const addresses = new Map<string, string>();

/** Where `peer` is dialled from now on. */
export function setAddress(peer: string, address: string): void {
  addresses.set(peer, address);
}

/** Earth (receiver) and saturn (source) over a reliable memory network. */
export async function memoryPair(options: { earth?: MirrorOptions; saturn?: MirrorOptions; network?: MemoryNetwork } = {}): Promise<Pair> {
  const network = options.network ?? memoryNetwork();
  addresses.set('saturn', 'saturn');
  addresses.set('earth', 'earth');
  const saturn = node('saturn', memory({ network, peer: 'saturn', mode: 'reliable' }), options.saturn ?? {});
  const earth = node('earth', memory({ network, peer: 'earth', mode: 'reliable' }), options.earth ?? {});
  await saturn.manager.listen('memory', 'saturn');
  return driver(earth, saturn, false);
}

/** Earth and saturn over loopback TCP (OS-chosen port). */
export async function tcpPair(options: { earth?: MirrorOptions; saturn?: MirrorOptions } = {}): Promise<Pair> {
  const saturn = node('saturn', tcp({ localPeer: 'saturn', keys: { earth: KEY } }), options.saturn ?? {});
  const earth = node('earth', tcp({ localPeer: 'earth', keys: { saturn: KEY } }), options.earth ?? {});
  const listener = await saturn.manager.listen('tcp', '127.0.0.1:0');
  addresses.set('saturn', listener.address);
  return driver(earth, saturn, true);
}

function driver(earth: Node, saturn: Node, real: boolean): Pair {
  const beats = async (n = 1): Promise<void> => {
    for (let i = 0; i < n; i++) {
      await settle(real);
      earth.runtime.step();
      await settle(real);
      saturn.runtime.step();
    }
  };
  return {
    earth,
    saturn,
    beats,
    async until(done, limit = 200) {
      for (let i = 0; i < limit; i++) {
        if (done()) return i;
        await beats(1);
      }
      throw new Error(`condition not met after ${limit} beats`);
    },
    async close() {
      await Promise.all([earth.manager.close(), saturn.manager.close()]);
    },
  };
}

/** Writes a mirror request on `tree` (fields at their CEP types). */
export function fileRequest(
  tree: Tree,
  id: string,
  fields: {
    peer?: string;
    mount?: string;
    src?: string;
    dst?: string;
    window?: number;
    maxInfl?: number;
    commitMode?: string;
    deadline?: number;
    resumeTok?: string;
    extra?: Record<string, Value>;
  } = {},
): void {
  const at = ['net', 'organs', 'mirror', 'requests', id];
  tree.batch(() => {
    tree.ensureDictionary(at);
    tree.set([...at, 'peer'], text(fields.peer ?? 'saturn'));
    tree.set([...at, 'mount'], text(fields.mount ?? 'main'));
    tree.set([...at, 'src_peer'], text(fields.peer ?? 'saturn'));
    tree.set([...at, 'src_chan'], text(fields.src ?? '/data/shared'));
    if (fields.dst !== undefined) tree.set([...at, 'dst_chan'], text(fields.dst));
    tree.set([...at, 'caps', 'required', 'reliable'], { type: 'bool', value: true });
    tree.set([...at, 'bundle', 'beat_window'], u64(BigInt(fields.window ?? 1)));
    tree.set([...at, 'bundle', 'max_infl'], u64(BigInt(fields.maxInfl ?? 1)));
    tree.set([...at, 'bundle', 'commit_mode'], text(fields.commitMode ?? 'stream'));
    if (fields.resumeTok !== undefined) tree.set([...at, 'bundle', 'resume_tok'], text(fields.resumeTok));
    if (fields.deadline !== undefined) tree.set([...at, 'deadline'], u64(BigInt(fields.deadline)));
    for (const [k, v] of Object.entries(fields.extra ?? {})) tree.set([...at, ...k.split('/')], v);
  });
}

/** A request field as a plain JS value. */
export function field(tree: Tree, id: string, name: string): string | bigint | boolean | undefined {
  const v = tree.getValue(['net', 'organs', 'mirror', 'requests', id, ...name.split('/')]);
  return v === undefined ? undefined : (v.value as string | bigint | boolean);
}

export function at(tree: Tree, path: string): string | bigint | boolean | undefined {
  const v = tree.getValue(path);
  return v === undefined ? undefined : (v.value as string | bigint | boolean);
}

/** Digest of a branch, or 'absent'. */
export function branchDigest(tree: Tree, path: string): string {
  const cell = tree.get(path);
  return cell === undefined ? 'absent' : digestHex(cell);
}

/** The memory channel earth dialled for `mount`. */
export function earthChannel(pair: Pair, mount = 'main'): ChannelV1 {
  const channel = memoryHooks(pair.earth.provider)
    .channels()
    .find((c) => c.info.mount === mount);
  if (channel === undefined) throw new Error(`earth has no channel for ${mount}`);
  return channel;
}

/** The memory channel saturn accepted for `mount` (the newest). */
export function saturnChannel(pair: Pair, mount = 'main'): ChannelV1 {
  const channel = memoryHooks(pair.saturn.provider)
    .channels()
    .filter((c) => c.info.mount === mount)
    .at(-1);
  if (channel === undefined) throw new Error(`saturn has no channel for ${mount}`);
  return channel;
}

/** Applies per `epoch:seq`, to check that none ran twice. */
export function applyCounts(node: Node): Map<string, number> {
  const counts = new Map<string, number>();
  for (const a of node.applies) counts.set(`${a.epoch}:${a.seq}`, (counts.get(`${a.epoch}:${a.seq}`) ?? 0) + 1);
  return counts;
}
