/**
 * Where the manager keeps its state in the tree (SPEC §6): the provider catalog, the mount
 * schema and per-mount telemetry. Everything a tool needs is here, not in private fields.
 */
import { bool, name, text, u64, type Name, type Tree, type Value } from '@cep/cells';
import type { SerializerFeature } from './negotiate.ts';

/** Path segments from words. */
export function at(...parts: string[]): Name[] {
  return parts.map((part) => name(part));
}

export function transportPath(id: string): Name[] {
  return at('net', 'transports', id);
}

/** A mount's key, `<peer>/<mode>/<mount>`: the manager's map key and its input stream name. */
export function mountKey(peer: string, mode: string, mount: string): string {
  return `${peer}/${mode}/${mount}`;
}

export function mountPath(peer: string, mode: string, mount: string): Name[] {
  return at('net', 'mounts', peer, mode, mount);
}

export function telemetryPath(peer: string, mount: string): Name[] {
  return at('net', 'telemetry', peer, mount);
}

/** Writes `/net/transports/<id>/{caps/<cap>=true, spec_ver}`. */
export function writeCatalogEntry(tree: Tree, id: string, caps: readonly string[], specVersion: string): void {
  const root = transportPath(id);
  tree.batch(() => {
    tree.ensureDictionary(root);
    writeCapSet(tree, [...root, name('caps')], caps);
    tree.set([...root, name('spec_ver')], text(specVersion));
  });
}

function writeCapSet(tree: Tree, path: Name[], caps: readonly string[]): void {
  if (tree.get(path) !== undefined) tree.clear(path);
  tree.ensureDictionary(path);
  for (const cap of caps) tree.set([...path, name(cap)], bool(true));
}

/** The mount's configuration as the manager writes it. */
export interface MountRecord {
  readonly peer: string;
  readonly mode: string;
  readonly mount: string;
  readonly localNode: string;
  readonly required: readonly string[];
  readonly preferred: readonly string[];
  readonly updLatest: boolean;
  readonly serializer: Readonly<Record<SerializerFeature, boolean>> & {
    readonly warnDown: boolean;
    readonly cmpMaxVer: number;
    /** AEAD is off although a key is configured, allowed by the peer's `aead: optional`. */
    readonly aeadDown?: boolean;
  };
}

/** Writes the request half of a mount: caps, serializer allowances, local node. */
export function writeMountConfig(tree: Tree, record: MountRecord): void {
  const root = mountPath(record.peer, record.mode, record.mount);
  tree.batch(() => {
    tree.ensureDictionary(root);
    writeCapSet(tree, [...root, ...at('caps', 'required')], record.required);
    writeCapSet(tree, [...root, ...at('caps', 'preferred')], record.preferred);
    tree.set([...root, ...at('caps', 'upd_latest')], bool(record.updLatest));
    writeSerializer(tree, root, record.serializer);
    tree.set([...root, name('local_node')], text(record.localNode));
  });
}

/** Writes `serializer/`: the features in effect after negotiation. */
export function writeSerializer(tree: Tree, root: Name[], s: MountRecord['serializer']): void {
  const at2 = (field: string): Name[] => [...root, ...at('serializer', field)];
  tree.set(at2('crc32c_ok'), bool(s.crc32c));
  tree.set(at2('deflate_ok'), bool(s.deflate));
  tree.set(at2('aead_ok'), bool(s.aead));
  tree.set(at2('warn_down'), bool(s.warnDown));
  tree.set(at2('cmp_max_ver'), u64(BigInt(s.cmpMaxVer)));
  // Present only while a downgrade is in effect, so a reader sees it and nothing else changes shape.
  if (s.aeadDown === true) tree.set(at2('aead_down'), bool(true));
  else if (tree.get(at2('aead_down')) !== undefined) tree.remove(at2('aead_down'));
}

/** Writes `transport/`: the chosen provider and its caps. */
export function writeTransport(tree: Tree, root: Name[], provider: string, caps: readonly string[], updLatest: boolean): void {
  tree.set([...root, ...at('transport', 'provider')], text(provider));
  writeCapSet(tree, [...root, ...at('transport', 'prov_caps')], caps);
  tree.set([...root, ...at('transport', 'upd_latest')], bool(updLatest));
}

/** Mount states as written to `state`. */
export type MountState = 'opening' | 'open' | 'closed' | 'error';

export function writeState(tree: Tree, root: Name[], state: MountState, note?: string): void {
  tree.set([...root, name('state')], text(state));
  if (note !== undefined) tree.set([...root, name('error_note')], text(note));
  else if (state !== 'error' && tree.get([...root, name('error_note')]) !== undefined) tree.remove([...root, name('error_note')]);
}

const FRAME_COUNT = name('frame_count');
const LAST_MODE = name('last_mode');
const LAST_SAMPLE = name('last_sample');

/** The u64 counters of a mount's telemetry. */
export type TelemetryCounter = 'ready_count' | 'bp_count' | 'fatal_count' | 'frame_count' | 'plain_refused';

/** Telemetry of one mount: counters and last-seen fields, each stamped with the beat. */
export class Telemetry {
  constructor(
    private readonly tree: Tree,
    private readonly root: Name[],
  ) {}

  /** Creates the record with zeros (so a reader always finds every typed field). */
  init(beat: number): void {
    if (this.tree.get(this.root) !== undefined && !this.tree.get(this.root)!.isDeleted) return;
    this.tree.batch(() => {
      for (const counter of ['ready_count', 'bp_count', 'fatal_count', 'frame_count'] as const) this.tree.set([...this.root, name(counter)], u64(0n));
      this.tree.set([...this.root, name('last_mode')], text('none'));
      this.tree.set([...this.root, name('last_event')], text('none'));
      this.tree.set([...this.root, name('bp_flag')], bool(false));
      this.tree.set([...this.root, name('last_sample')], u64(BigInt(beat)));
    });
  }

  count(counter: TelemetryCounter, beat: number, by = 1n): void {
    increment(this.tree, [...this.root, name(counter)], by);
    this.sample(beat);
  }

  event(event: string, beat: number): void {
    this.tree.set([...this.root, name('last_event')], text(event));
    this.sample(beat);
  }

  mode(mode: string, beat: number): void {
    this.tree.set([...this.root, name('last_mode')], text(mode));
    this.sample(beat);
  }

  /**
   * The sends of one beat in one sample: `frames` more in `frame_count`, the last send's mode.
   * Skipped when the record is gone (its mount was removed): a late sample must not revive it.
   */
  sends(frames: bigint, mode: string | undefined, beat: number): void {
    const record = this.tree.get(this.root);
    if (record === undefined || record.isDeleted) return;
    // From the record's cell (found once above): one walk per beat and mount, not one per field.
    this.tree.batch(() => {
      if (frames > 0n) {
        const counter = record.child(FRAME_COUNT);
        const current = counter === undefined || counter.isDeleted ? undefined : counter.value;
        this.tree.setChild(record, FRAME_COUNT, plus(current, frames));
      }
      if (mode !== undefined) this.tree.setChild(record, LAST_MODE, this.modeValue(mode));
      this.tree.setChild(record, LAST_SAMPLE, u64(BigInt(beat)));
    });
  }

  /** The last mode's text value, shared while it stays the same (a cell's value is replaced, never edited). */
  private modeValue(mode: string): Value {
    if (this.lastModeValue === undefined || this.lastMode !== mode) {
      this.lastMode = mode;
      this.lastModeValue = Object.freeze(text(mode));
    }
    return this.lastModeValue;
  }
  private lastMode: string | undefined;
  private lastModeValue: Value | undefined;

  backpressured(flag: boolean, beat: number): void {
    this.tree.set([...this.root, name('bp_flag')], bool(flag));
    this.sample(beat);
  }

  private sample(beat: number): void {
    this.tree.set([...this.root, name('last_sample')], u64(BigInt(beat)));
  }
}

/** `/net/peers/<peer>/services/<mount>`: what organ-discovery validates (one record per mount, as the reference publishes). */
export function servicePath(peer: string, mount: string): Name[] {
  return at('net', 'peers', peer, 'services', mount);
}

/** Publishes the service record of a mount that has a provider. */
export function writeService(tree: Tree, record: { peer: string; mode: string; mount: string; localNode: string; provider: string; updLatest: boolean }): void {
  const root = servicePath(record.peer, record.mount);
  tree.batch(() => {
    tree.set([...root, name('mode')], text(record.mode));
    tree.set([...root, name('mount')], text(record.mount));
    tree.set([...root, name('local_node')], text(record.localNode));
    tree.set([...root, name('provider')], text(record.provider));
    tree.set([...root, name('upd_latest')], bool(record.updLatest));
  });
}

/** Adds `by` to the u64 at `path` (absent counts as 0). */
function increment(tree: Tree, path: Name[], by = 1n): void {
  tree.set(path, plus(tree.getValue(path), by));
}

/** A counter's value (a u64, or none yet) plus `by`, as a u64. */
function plus(current: Value | undefined, by: bigint): Value {
  return u64((current?.type === 'u64' ? current.value : 0n) + by);
}

/** `/net/listeners/<provider>/`: `count` refused inbound attempts, with the last reason. */
export function writeRejection(tree: Tree, provider: string, reason: string, beat: number, count = 1): void {
  const root = at('net', 'listeners', provider);
  tree.batch(() => {
    increment(tree, [...root, name('rejected')], BigInt(count));
    tree.set([...root, name('last_reject')], text(reason));
    tree.set([...root, name('last_sample')], u64(BigInt(beat)));
  });
}

/** `/net/limits/`: the transport's resource bounds in force (so an operator sees them). */
export function writeLimits(tree: Tree, limits: Readonly<Record<string, number>>): void {
  tree.batch(() => {
    for (const [field, value] of Object.entries(limits)) tree.set(at('net', 'limits', field), u64(BigInt(value)));
  });
}

/** `/net/peers/<peer>/limits/<field>`: one more refusal by a resource bound for `peer`. */
export function countLimitHit(tree: Tree, peer: string, field: string): void {
  increment(tree, at('net', 'peers', peer, 'limits', field));
}

/** Longest remote session id the manager records (longer ones are not a session id: ignored). */
export const MAX_SESSION_ID_CHARS = 128;

/** The remote peer's session as recorded in a mount record: `session` and `session_seq`. */
export interface MountSession {
  /** The remote peer's current session id. */
  readonly id: string;
  /** 1 at the first session seen, one more each time the remote session id changed. */
  readonly seq: bigint;
}

/**
 * The remote session recorded for the mount `peer/mode/mount` (`/net/mounts/<peer>/<mode>/<mount>/
 * {session, session_seq}`), or undefined before the first handshake that told one (or when the
 * provider cannot know). An organ that holds state with the peer compares `seq` with the one it
 * saw: a higher one means the peer restarted since.
 */
export function readMountSession(tree: Tree, peer: string, mode: string, mount: string): MountSession | undefined {
  const root = mountPath(peer, mode, mount);
  const id = tree.getValue([...root, name('session')]);
  const seq = tree.getValue([...root, name('session_seq')]);
  if (id?.type !== 'text' || seq?.type !== 'u64') return undefined;
  return { id: id.value, seq: seq.value };
}

/**
 * Records `id` as the mount's remote session. Returns the new record when it changed (the first
 * session, or another one), undefined when it is the session already recorded.
 */
export function writeMountSession(tree: Tree, peer: string, mode: string, mount: string, id: string): MountSession | undefined {
  const previous = readMountSession(tree, peer, mode, mount);
  if (previous?.id === id) return undefined;
  const next = { id, seq: (previous?.seq ?? 0n) + 1n };
  const root = mountPath(peer, mode, mount);
  tree.batch(() => {
    tree.set([...root, name('session')], text(id));
    tree.set([...root, name('session_seq')], u64(next.seq));
  });
  return next;
}
