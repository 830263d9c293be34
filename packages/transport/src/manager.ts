/**
 * The transport manager (SPEC §6): a provider catalog, mounts negotiated against it, channels
 * opened through providers, and every provider event turned into a runtime input.
 *
 * The rule that keeps it deterministic: providers live at the edge (sockets, timers, the OS);
 * the tree changes only when the heartbeat admits their events and frames at a capture. The
 * inbound log therefore holds everything that happened, and `replay` rebuilds `/net` exactly.
 */
import { explainNotWord, name, type Tree } from '@cep/cells';
import type { Runtime } from '@cep/heartbeat';
import { COMPARATOR_VERSION, DEFAULT_MAX_FRAME_BYTES, type SerializerPolicy } from '@cep/serializer';
import { CepError } from '@cep/errors';
import { PROVIDER_SPEC_V1, type ChannelV1, type ListenerV1, type ProviderV1 } from './provider/v1.ts';
import { transportError } from './errors.ts';
import { deriveMountKey } from './keys.ts';
import { MountImpl, type Mount } from './mount.ts';
import { negotiate, negotiateSerializer, type SerializerFeature } from './negotiate.ts';
import { identityEvent, writePeerIdentity } from './identity.ts';
import {
  MAX_SESSION_ID_CHARS,
  countLimitHit,
  mountKey,
  servicePath,
  writeMountSession,
  type MountSession,
  telemetryPath,
  writeCatalogEntry,
  writeLimits,
  writeRejection,
  writeService,
  writeMountConfig,
  writeSerializer,
  writeTransport,
} from './schema.ts';
import { TOPIC } from './topics.ts';
import { EVENT_INPUT, FRAME_INPUT, GROUP_FRAME_INPUT, decodeEvent, decodeGroupFrame, encodeEvent, type EdgeEvent } from './events.ts';
import { Inbound, type FrameHandler } from './inbound.ts';

/** What a mount asks for (SPEC §6, the fields of a link request). */
export interface MountSpec {
  readonly peer: string;
  readonly mode: string;
  readonly mount: string;
  /** The local node the mount belongs to (default: the manager's `localNode`). */
  readonly localNode?: string;
  /** How to reach the peer with the chosen provider (default: `addressOf(peer, provider)`). */
  readonly address?: string;
  readonly caps?: { readonly required?: readonly string[]; readonly preferred?: readonly string[]; readonly updLatest?: boolean };
  /** A provider id to use when it qualifies. */
  readonly prefProv?: string;
  /** False: gauges sent on this mount are refused (`tp_upd_den`) instead of dropped. Default true. */
  readonly allowUpd?: boolean;
  /** Serializer features this mount allows (default: crc32c and deflate on; aead on when a key exists). */
  readonly serializer?: {
    readonly crc32c?: boolean;
    readonly deflate?: boolean;
    readonly aead?: boolean;
    /** Emit `tp_flatneg` when a feature is turned off (default true). */
    readonly warnDown?: boolean;
    /** The highest comparator version the peer's reader accepts (default ours). */
    readonly cmpMaxVer?: number;
  };
}

/** What accepted mounts of a mode allow (see {@link TransportManager.acceptPolicy}); absent fields keep the default, on. */
export interface AcceptPolicy {
  readonly crc32c?: boolean;
  readonly deflate?: boolean;
}

/** Something that happened to a mount, told to organs at the capture that admitted it. */
export interface MountEvent {
  /**
   * `session`: the remote peer's session id was recorded for the mount (`session`,
   * `session_seq` in its record): the first one seen, or a new one after the peer restarted
   * (then `session.seq` > 1 and whatever the peer held for this mount is gone). A reconnect to
   * the same session tells nothing.
   */
  readonly type: 'open' | 'accepted' | 'closed' | 'error' | 'fatal' | 'session';
  readonly mount: Mount;
  readonly beat: number;
  readonly note?: string;
  /** With `session`: the remote session now recorded. */
  readonly session?: MountSession;
  /**
   * With `error`/`fatal` from the channel: the provider's error code (`OPEN_FAILED`,
   * `CONNECTION_LOST`, `AUTH_FAILED` …). `AUTH_FAILED` and `PEER_MISMATCH` will not cure
   * themselves quickly: organs redial those on a long ceiling.
   */
  readonly code?: string;
}

/** Error codes that mean the peer refused who we are (a key or name mismatch), not a broken network. */
export const REFUSAL_CODES: readonly string[] = Object.freeze(['AUTH_FAILED', 'PEER_MISMATCH']);

/** Options of {@link createTransportManager}. */
export interface TransportManagerOptions {
  /** This runtime's node name (a CEP word). */
  readonly localNode: string;
  /** Providers to register at once. */
  readonly providers?: readonly ProviderV1[];
  /** Where a peer listens for a provider (e.g. from the peer config). */
  readonly addressOf?: (peer: string, providerId: string) => string | undefined;
  /** The key shared with a peer; each mount's AEAD key is derived from it. */
  readonly peerKey?: (peer: string) => Uint8Array | undefined;
  /**
   * Peers whose mounts may run without AEAD although a key is configured (`aead: optional`).
   * For every other keyed peer a mount is encrypted or does not open: a provider without the
   * `aead` cap leaves it in `error` (`tp_aead_req`), and a plaintext frame on it is refused.
   * Under `optional` the downgrade opens, is told at warn and recorded as `serializer/aead_down`.
   * Default: no peer.
   */
  readonly aeadOptional?: (peer: string) => boolean;
  /** Frames a mount may queue while opening or backpressured (default 4096). */
  readonly maxQueuedFrames?: number;
  /** Largest frame sent or accepted (default the serializer's 64 MiB). */
  readonly maxFrameBytes?: number;
  /** Inbound frames per mount waiting for admission before the manager stops reading (default 256). */
  readonly inboundWindow?: number;
  /**
   * Inbound frame bytes a mount may bring into one beat (default 256 KiB). A frame that would
   * take a mount past it waits, in arrival order, for a later beat; a beat always takes at least
   * one frame, so a frame larger than the budget is admitted alone. Counted in bytes, never time.
   */
  readonly inboundBudgetBytes?: number;
  /**
   * Inbound frame bytes all mounts of one peer may have waiting for admission (default
   * `DEFAULT_INBOUND_QUEUED_BYTES_PER_PEER`, 4 MiB). Past it the manager stops reading that
   * peer's channels, so the provider stops reading their sockets (backpressure; nothing read
   * is dropped). A frame is always let through when none of the peer's frames is waiting.
   */
  readonly inboundQueuedBytesPerPeer?: number;
  /**
   * Inbound frame bytes one mount may hand to its handlers at a capture while its peer has other
   * mounts (default `DEFAULT_INBOUND_BUSY_BYTES`, 8 KiB). Frames past it (a mirror's parts) are
   * handed over at the end of the beat instead, or of the next one if another mount of the peer
   * admitted or sent a frame in this beat (a call; a stream never waits through two such beats in
   * a row), in arrival order, exactly once, and a replay defers the same frames. Counted in bytes,
   * never time.
   */
  readonly inboundBusyBytes?: number;
  /**
   * Mounts one peer may have (default `DEFAULT_MAX_MOUNTS_PER_PEER`, 64). `configure` beyond it
   * throws `MOUNT_LIMIT`; a channel the peer opens beyond it is closed at admission. Both are
   * told as CEI `tp_limit` and counted in `/net/peers/<peer>/limits/mounts_ref`.
   */
  readonly maxMountsPerPeer?: number;
  /**
   * Never dial or listen: the tree is rebuilt from admitted (logged) events alone. For
   * `replay(log)` of a peer's inbound log.
   */
  readonly offline?: boolean;
}

/** The transport manager of one runtime. */
export interface TransportManager {
  readonly runtime: Runtime;
  /** Registers a provider and mirrors it under `/net/transports/<id>/`; mounts without one are renegotiated. */
  addProvider(provider: ProviderV1): void;
  /** Starts accepting channels on a registered provider. */
  listen(providerId: string, address: string): Promise<ListenerV1>;
  /** Creates or reconfigures a mount; a channel opens at once when a provider qualifies. */
  configure(spec: MountSpec): Mount;
  /** The mount at `peer/mode/mount`, if any. */
  get(peer: string, mode: string, mount: string): Mount | undefined;
  /** Every mount, in key order. */
  mounts(): Mount[];
  /** Closes a mount and removes its schema and telemetry. */
  remove(peer: string, mode: string, mount: string, reason: string): boolean;
  /** Hears decoded inbound frames of one mode, at capture. Returns the remover. */
  onFrame(mode: string, handler: FrameHandler): () => void;
  /**
   * What mounts of `mode` that a peer opens to this runtime (accepted mounts) allow of crc32c
   * and deflate, instead of the default (both on). The organ that owns a mode says it at install:
   * the dialling side chooses its own mount's policy in its spec, the accepting side has no spec,
   * and a mode whose frames do not compress (the mirror's packed parts) should not pay deflate on
   * every send. AEAD is not chosen here: a keyed peer's mounts are always sealed. Applies to
   * channels admitted after the call; a replay that installs the same organs reads the same.
   * Returns the remover (the default again).
   */
  acceptPolicy(mode: string, choices: AcceptPolicy): () => void;
  /** Hears mount events (open, accepted, closed, error, fatal), at capture. Returns the remover. */
  onMountEvent(listener: (event: MountEvent) => void): () => void;
  /** Closes every mount, listener and provider. */
  close(): Promise<void>;
}

/** Creates the transport manager of `runtime` (one per runtime: it defines the `tp.*` inputs). */
export function createTransportManager(runtime: Runtime, options: TransportManagerOptions): TransportManager {
  return new Manager(runtime, options);
}

class Manager implements TransportManager {
  private readonly providers = new Map<string, ProviderV1>();
  private readonly mountsByKey = new Map<string, MountImpl>();
  private readonly specs = new Map<string, MountSpec>();
  /** Per mode: what accepted mounts allow (see acceptPolicy). */
  private readonly acceptPolicies = new Map<string, AcceptPolicy>();
  private readonly channels = new Map<string, ChannelV1>();
  private readonly listeners: ListenerV1[] = [];
  private readonly mountListeners = new Set<(event: MountEvent) => void>();
  private readonly inbound: Inbound;
  private readonly dials = new Map<string, AbortController>();
  /** Dial ids (`d<n>`) follow configure calls, so a replay assigns the same ones; accept ids (`a<n>`) come from the edge and are logged. */
  private dialSeq = 0;
  private acceptSeq = 0;
  private closed = false;
  /** Mounts that sent since the last commit: their telemetry is sampled once, at commit. */
  private readonly unsampled = new Set<MountImpl>();
  private readonly limits: { maxQueuedFrames: number; maxFrameBytes: number };
  private readonly maxMountsPerPeer: number;
  /**
   * Listener refusals heard at the edge since the last commit, per listener: a flood costs one
   * counter each, and goes in as one input per beat carrying the count and the last reason.
   */
  private readonly edgeRefusals = new Map<string, { provider: string; n: number; code: string; note: string; claimed: string | undefined }>();
  /** Refusals admitted in this beat, per listener: one `/net` write and one CEI fact each, at commit. */
  private readonly beatRefusals = new Map<string, { n: number; code: string; note: string; claimed: string | undefined }>();

  constructor(
    readonly runtime: Runtime,
    private readonly options: TransportManagerOptions,
  ) {
    this.checkWord('localNode', options.localNode);
    this.limits = { maxQueuedFrames: options.maxQueuedFrames ?? 4096, maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES };
    const window = positive('inboundWindow', options.inboundWindow, 256);
    const budget = positive('inboundBudgetBytes', options.inboundBudgetBytes, DEFAULT_INBOUND_BUDGET_BYTES);
    const queued = positive('inboundQueuedBytesPerPeer', options.inboundQueuedBytesPerPeer, DEFAULT_INBOUND_QUEUED_BYTES_PER_PEER);
    const busy = positive('inboundBusyBytes', options.inboundBusyBytes, DEFAULT_INBOUND_BUSY_BYTES);
    this.maxMountsPerPeer = positive('maxMountsPerPeer', options.maxMountsPerPeer, DEFAULT_MAX_MOUNTS_PER_PEER);
    this.inbound = new Inbound(
      runtime,
      window,
      budget,
      queued,
      busy,
      (key) => this.mountsByKey.get(key),
      (peer) => options.aeadOptional?.(peer) === true,
    );
    writeLimits(this.tree, {
      mounts_peer: this.maxMountsPerPeer,
      in_q_bytes: queued,
      in_budget: budget,
      in_window: window,
      in_busy: busy,
      frame_bytes: this.limits.maxFrameBytes,
    });
    runtime.onCommit((beat) => {
      // Every beat commits here, most with nothing to write: each step is skipped when empty.
      this.inbound.releaseAll(beat);
      if (this.unsampled.size > 0) {
        for (const mount of this.unsampled) mount.flushTelemetry(beat);
        this.unsampled.clear();
      }
      if (this.beatRefusals.size > 0) this.writeRefusals(beat);
      if (this.edgeRefusals.size > 0) this.flushEdgeRefusals();
    });
    // Events and frames of a stream are admitted in arrival order (one shared sequence), not by kind.
    runtime.defineInput(EVENT_INPUT, (input, ctx) =>
      this.inbound.event(input.stream, input.seq, ctx.beat, (beat) => this.admitEvent(input.stream, decodeEvent(input.data), beat)),
    );
    runtime.defineInput(FRAME_INPUT, (input, ctx) => this.inbound.admit(input.stream, input.seq, input.data, ctx.beat));
    runtime.defineInput(GROUP_FRAME_INPUT, (input, ctx) => {
      const { group, frame } = decodeGroupFrame(input.data);
      this.inbound.admit(input.stream, input.seq, frame, ctx.beat, group);
    });
    for (const provider of options.providers ?? []) this.addProvider(provider);
  }

  private get tree(): Tree {
    return this.runtime.tree;
  }

  // ---- catalog -------------------------------------------------------------------------

  addProvider(provider: ProviderV1): void {
    if (provider?.specificationVersion !== PROVIDER_SPEC_V1) {
      throw transportError('PROVIDER_INVALID', `a provider must declare specificationVersion '${PROVIDER_SPEC_V1}'`, { got: provider?.specificationVersion });
    }
    const problem = explainNotWord(provider.id);
    if (problem !== undefined) throw transportError('PROVIDER_INVALID', `provider id ${JSON.stringify(provider.id)} is not a CEP word: ${problem}`);
    if (!Array.isArray(provider.caps)) throw transportError('PROVIDER_INVALID', `provider ${provider.id} has no caps array`);
    for (const cap of provider.caps) {
      const bad = capProblem(cap);
      if (bad !== undefined) throw transportError('PROVIDER_INVALID', `provider ${provider.id} cap ${JSON.stringify(cap)} is not a valid name: ${bad}`);
    }
    if (this.providers.has(provider.id)) throw transportError('PROVIDER_DUPLICATE', `provider ${provider.id} is registered already`, { id: provider.id });
    this.providers.set(provider.id, provider);
    writeCatalogEntry(this.tree, provider.id, provider.caps, provider.specificationVersion);
    const waiting = [...this.mountsByKey.values()].filter((m) => m.initiator && m.provider === undefined && this.specs.has(m.key));
    if (waiting.length > 0 || this.mountsByKey.size > 0) {
      this.runtime.cei.emit({
        topic: TOPIC.catalogSync,
        severity: 'info',
        note: `provider ${provider.id} joined the catalog; ${waiting.length} mount(s) renegotiated`,
        origin: 'tp/mgr',
      });
    }
    for (const mount of waiting) this.configure(this.specs.get(mount.key)!);
  }

  private catalog(): Array<{ id: string; caps: readonly string[] }> {
    return [...this.providers.values()].map((p) => ({ id: p.id, caps: p.caps })).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async listen(providerId: string, address: string): Promise<ListenerV1> {
    const provider = this.providers.get(providerId);
    if (this.options.offline === true) throw transportError('LISTEN_FAILED', 'an offline manager (replay) does not listen', { providerId });
    if (provider?.listen === undefined) {
      throw transportError(
        'LISTEN_FAILED',
        provider === undefined ? `provider ${providerId} is not registered` : `provider ${providerId} cannot accept channels`,
        { providerId },
      );
    }
    const stream = `~listen/${providerId}`;
    try {
      const listener = await provider.listen(
        {
          address,
          onReject: (rejection) => this.refuseAtEdge(stream, providerId, String(rejection.code), rejection.reason, rejection.claimedPeer),
        },
        (channel) => this.accept(providerId, channel),
      );
      this.listeners.push(listener);
      return listener;
    } catch (error) {
      throw transportError('LISTEN_FAILED', `provider ${providerId} could not listen on ${address}: ${(error as Error).message}`, { providerId, address });
    }
  }

  // ---- mounts --------------------------------------------------------------------------

  configure(spec: MountSpec): Mount {
    for (const field of ['peer', 'mode', 'mount'] as const) this.checkWord(field, spec?.[field]);
    const localNode = spec.localNode ?? this.options.localNode;
    this.checkWord('localNode', localNode);
    if (spec.prefProv !== undefined) this.checkWord('prefProv', spec.prefProv);
    const required = this.checkCaps('caps.required', spec.caps?.required);
    const preferred = this.checkCaps('caps.preferred', spec.caps?.preferred);
    const cmpMaxVer = spec.serializer?.cmpMaxVer ?? COMPARATOR_VERSION;
    if (!Number.isSafeInteger(cmpMaxVer) || cmpMaxVer < 0)
      throw transportError('MOUNT_INVALID', `serializer.cmpMaxVer must be a whole number ≥ 0, got ${String(cmpMaxVer)}`);

    const key = mountKey(spec.peer, spec.mode, spec.mount);
    if (!this.mountsByKey.has(key) && this.mountCount(spec.peer) >= this.maxMountsPerPeer) {
      this.limitHit(spec.peer, `mount ${key} refused: peer ${spec.peer} has ${this.maxMountsPerPeer} mounts already (maxMountsPerPeer)`);
      throw transportError('MOUNT_LIMIT', `peer ${spec.peer} has ${this.maxMountsPerPeer} mounts already; raise maxMountsPerPeer or remove one`, {
        peer: spec.peer,
        limit: this.maxMountsPerPeer,
      });
    }
    this.specs.set(key, spec);
    const mount = this.mountsByKey.get(key) ?? this.newMount(spec.peer, spec.mode, spec.mount);
    const wasInitiator = mount.initiator;
    mount.initiator = true;
    mount.allowUpd = spec.allowUpd !== false;
    const peerKey = this.options.peerKey?.(spec.peer);
    const allowed = this.allowance(spec.peer, spec.serializer);
    const warnDown = spec.serializer?.warnDown ?? true;
    const updLatest = spec.caps?.updLatest === true;
    this.tree.batch(() => {
      writeMountConfig(this.tree, {
        peer: spec.peer,
        mode: spec.mode,
        mount: spec.mount,
        localNode,
        required,
        preferred,
        updLatest,
        serializer: { ...allowed, warnDown, cmpMaxVer },
      });
      mount.telemetry.init(this.runtime.beat);
      const chosen = negotiate(this.catalog(), { required, preferred, updLatest, prefProv: spec.prefProv });
      if (!chosen.ok) {
        this.detach(mount, 'no provider', true);
        mount.provider = undefined;
        mount.providerCaps = [];
        mount.setState('error', chosen.note);
        mount.emit(TOPIC.noProvider, 'error', chosen.note);
        return;
      }
      const provider = chosen.provider;
      const outcome = negotiateSerializer(allowed, provider.caps);
      // Switching AEAD off in the spec is a downgrade too when the peer is keyed.
      const offBySpec = spec.serializer?.aead === false && peerKey !== undefined;
      const aeadDown = offBySpec ? this.aeadDowngrade(spec.peer, ['aead']) : this.aeadDowngrade(spec.peer, outcome.downgraded);
      if (aeadDown === 'refused') {
        this.refuseWithoutAead(mount, offBySpec ? undefined : provider.id, outcome.on, warnDown, cmpMaxVer);
        return;
      }
      for (const feature of outcome.downgraded) {
        if (feature === 'aead' && aeadDown === 'allowed') continue; // told below, whatever warnDown says
        if (warnDown && !mount.flatnegWarned.has(feature)) {
          mount.flatnegWarned.add(feature);
          mount.emit(TOPIC.flatNegotiation, 'warn', `serializer feature ${feature} turned off: provider ${provider.id} lacks the ${feature} cap`);
        }
      }
      writeSerializer(this.tree, mount.path, { ...outcome.on, warnDown, cmpMaxVer, ...(aeadDown === 'allowed' ? { aeadDown: true } : {}) });
      if (aeadDown === 'allowed') this.noteAeadDowngrade(mount, offBySpec ? 'the mount spec turns it off' : `provider ${provider.id} lacks the aead cap`);
      writeTransport(this.tree, mount.path, provider.id, provider.caps, updLatest);
      writeService(this.tree, { peer: spec.peer, mode: spec.mode, mount: spec.mount, localNode, provider: provider.id, updLatest });
      if (outcome.on.aead && peerKey === undefined) {
        this.detach(mount, 'no key', true);
        mount.setState('error', `serializer aead is on but no key is configured for peer ${spec.peer}`);
        mount.emit(TOPIC.schema, 'error', `aead needs a key for peer ${spec.peer}`);
        return;
      }
      mount.policy = this.policyFor(spec.peer, spec.mode, spec.mount, outcome.on, cmpMaxVer);
      const address = spec.address ?? this.options.addressOf?.(spec.peer, provider.id);
      // Reconfigure reuses an open channel on the same provider: ours (to the same address),
      // or one the peer opened to this very mount (both sides configured it; one channel will do).
      const sameChannel =
        mount.provider === provider.id && mount.channel !== undefined && mount.state === 'open' && (!wasInitiator || mount.address === address);
      mount.provider = provider.id;
      mount.providerCaps = provider.caps;
      if (sameChannel) {
        mount.initiator = wasInitiator;
        return;
      }
      this.detach(mount, 'reconfigure', true);
      if (address === undefined) {
        mount.setState('error', `no address for peer ${spec.peer} on provider ${provider.id}`);
        mount.emit(TOPIC.schema, 'error', `no address for peer ${spec.peer} on provider ${provider.id}`);
        return;
      }
      mount.address = address;
      mount.setState('opening');
      mount.telemetry.event('opening', this.runtime.beat);
      this.dial(mount, this.providers.get(provider.id)!, localNode, address);
    });
    return mount;
  }

  get(peer: string, mode: string, mountName: string): Mount | undefined {
    return this.mountsByKey.get(mountKey(peer, mode, mountName));
  }

  mounts(): Mount[] {
    return [...this.mountsByKey.keys()].sort().map((key) => this.mountsByKey.get(key)!);
  }

  remove(peer: string, mode: string, mountName: string, reason: string): boolean {
    const key = mountKey(peer, mode, mountName);
    const mount = this.mountsByKey.get(key);
    if (mount === undefined) return false;
    this.closeMount(mount, reason);
    this.mountsByKey.delete(key);
    this.unsampled.delete(mount);
    this.specs.delete(key);
    this.tree.batch(() => {
      this.tree.remove(mount.path);
      if (![...this.mountsByKey.values()].some((m) => m.peer === peer && m.mount === mountName)) {
        this.tree.remove(telemetryPath(peer, mountName));
        this.tree.remove(servicePath(peer, mountName));
      }
    });
    return true;
  }

  onFrame(mode: string, handler: FrameHandler): () => void {
    return this.inbound.on(mode, handler);
  }

  acceptPolicy(mode: string, choices: AcceptPolicy): () => void {
    // Only the two features a mode may choose; an `aead` field smuggled in is not read.
    const policy: AcceptPolicy = {
      ...(choices.crc32c === undefined ? {} : { crc32c: choices.crc32c === true }),
      ...(choices.deflate === undefined ? {} : { deflate: choices.deflate === true }),
    };
    this.acceptPolicies.set(mode, policy);
    return () => {
      if (this.acceptPolicies.get(mode) === policy) this.acceptPolicies.delete(mode);
    };
  }

  onMountEvent(listener: (event: MountEvent) => void): () => void {
    this.mountListeners.add(listener);
    return () => this.mountListeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const mount of this.mountsByKey.values()) this.closeMount(mount, 'manager-close');
    for (const controller of this.dials.values()) controller.abort();
    const closing: Promise<unknown>[] = [];
    for (const channel of this.channels.values()) closing.push(channel.close('manager-close').catch(() => undefined));
    for (const listener of this.listeners) closing.push(listener.close().catch(() => undefined));
    await Promise.all(closing);
    await Promise.all([...this.providers.values()].map((p) => p.close().catch(() => undefined)));
    this.inbound.release();
  }

  // ---- internals -----------------------------------------------------------------------

  private newMount(peer: string, mode: string, mountName: string): MountImpl {
    const mount = new MountImpl(
      this.runtime,
      peer,
      mode,
      mountName,
      this.limits,
      (m, reason) => this.closeMount(m, reason),
      (m) => this.unsampled.add(m),
    );
    mount.siblings = () => this.mountsOf(peer);
    mount.pumpGroup = (m, subscription) => {
      if (!this.closed) void this.inbound.pumpGroup(m.key, subscription);
    };
    this.mountsByKey.set(mount.key, mount);
    return mount;
  }

  /** What a mount allows: its spec's choices, else crc32c and deflate on, aead on when a key for the peer exists. */
  private allowance(peer: string, chosen: MountSpec['serializer'] = {}): Record<SerializerFeature, boolean> {
    return {
      crc32c: chosen.crc32c ?? true,
      deflate: chosen.deflate ?? true,
      aead: chosen.aead ?? this.options.peerKey?.(peer) !== undefined,
    };
  }

  /**
   * Whether AEAD was turned off on a mount to `peer` against a configured key: `refused`
   * unless the peer is `aead: optional` (then `allowed`); `none` when AEAD stays on, the mount
   * never asked for it, or no key exists.
   */
  private aeadDowngrade(peer: string, downgraded: readonly SerializerFeature[]): 'none' | 'allowed' | 'refused' {
    if (!downgraded.includes('aead') || this.options.peerKey?.(peer) === undefined) return 'none';
    return this.options.aeadOptional?.(peer) === true ? 'allowed' : 'refused';
  }

  /** A keyed mount whose provider cannot encrypt: it does not open (no silent downgrade). */
  private refuseWithoutAead(
    mount: MountImpl,
    providerId: string | undefined,
    on: Readonly<Record<SerializerFeature, boolean>>,
    warnDown: boolean,
    cmpMaxVer: number,
  ): void {
    const why = providerId === undefined ? 'the mount spec turns aead off' : `provider ${providerId} lacks the aead cap`;
    const note = `a key is configured for peer ${mount.peer} but ${why}; the mount does not open in plaintext (set aead: optional for this peer to allow it)`;
    this.detach(mount, 'aead-required', true);
    writeSerializer(this.tree, mount.path, { ...on, warnDown, cmpMaxVer });
    mount.setState('error', note);
    mount.emit(TOPIC.aeadRequired, 'error', note);
  }

  /** An allowed downgrade (`aead: optional`): told at warn once per mount whatever `warnDown` says, and kept in `serializer/`. */
  private noteAeadDowngrade(mount: MountImpl, why: string): void {
    if (mount.flatnegWarned.has('aead')) return;
    mount.flatnegWarned.add('aead');
    mount.emit(TOPIC.flatNegotiation, 'warn', `aead is off: ${why}; allowed only because peer ${mount.peer} is aead: optional`);
  }

  private policyFor(peer: string, mode: string, mountName: string, on: Readonly<Record<SerializerFeature, boolean>>, cmpMaxVer: number): SerializerPolicy {
    const peerKey = this.options.peerKey?.(peer);
    return {
      crc32c: on.crc32c,
      deflate: on.deflate,
      aead: on.aead && peerKey !== undefined ? { mode: 'xchacha20poly1305', key: deriveMountKey(peerKey, mode, mountName) } : undefined,
      cmpMaxVer,
      maxFrameBytes: this.limits.maxFrameBytes,
    };
  }

  private closeMount(mount: MountImpl, reason: string): void {
    if (mount.state === 'closed' && mount.channel === undefined) return;
    this.detach(mount, reason);
    mount.dropQueues();
    mount.setState('closed');
    mount.telemetry.event('closed', this.runtime.beat);
    this.tell({ type: 'closed', mount, beat: this.runtime.beat, note: reason });
  }

  /**
   * Lets go of the mount's channel (and any dial in flight). Edge effects only. Channels the
   * peer opened to this mount (`inboundOnly`) are theirs: kept unless the mount itself closes.
   */
  private detach(mount: MountImpl, reason: string, keepInbound = false): void {
    if (mount.pendingOpen !== undefined) {
      this.dials.get(mount.pendingOpen)?.abort();
      mount.pendingOpen = undefined;
    }
    for (const id of [mount.channelId, ...(keepInbound ? [] : mount.inboundOnly)]) {
      if (id === undefined) continue;
      const channel = this.channels.get(id);
      this.channels.delete(id);
      channel?.close(reason).catch(() => undefined);
    }
    if (!keepInbound) mount.inboundOnly.length = 0;
    mount.channel = undefined;
    mount.channelId = undefined;
    mount.bpFlag = false;
  }

  private dial(mount: MountImpl, provider: ProviderV1, localNode: string, address: string): void {
    const id = `d${++this.dialSeq}`;
    mount.pendingOpen = id;
    if (this.options.offline === true) return;
    const controller = new AbortController();
    this.dials.set(id, controller);
    const stream = mount.key;
    provider.open({ peer: mount.peer, mode: mount.mode, mount: mount.mount, localNode, address, signal: controller.signal }).then(
      (channel) => {
        this.dials.delete(id);
        if (this.closed) return void channel.close('manager-close').catch(() => undefined);
        this.channels.set(id, channel);
        this.wire(stream, id, channel);
        this.pushEvent(stream, { t: 'opened', ch: id });
        this.pushSession(stream, id, channel.info.remoteSession);
        this.pushIdentity(stream, id, channel);
      },
      (error: unknown) => {
        this.dials.delete(id);
        if (this.closed) return;
        this.pushEvent(stream, { t: 'open_failed', ch: id, code: codeOf(error), note: (error as Error)?.message ?? String(error) });
      },
    );
  }

  private accept(providerId: string, channel: ChannelV1): void {
    if (this.closed) return void channel.close('manager-close').catch(() => undefined);
    const { peer, mode, mount } = channel.info;
    const bad = [peer, mode, mount].map((w) => (typeof w === 'string' ? explainNotWord(w) : 'missing')).find((p) => p !== undefined);
    const id = `a${++this.acceptSeq}`;
    if (bad !== undefined) {
      this.refuseAtEdge(`~listen/${providerId}`, providerId, 'PROTOCOL_ERROR', `accepted channel names an invalid mount: ${bad}`, undefined);
      return void channel.close('invalid-mount').catch(() => undefined);
    }
    this.channels.set(id, channel);
    const stream = mountKey(peer, mode, mount);
    this.wire(stream, id, channel);
    const scope =
      channel.publish !== undefined &&
      typeof channel.info.groupScope === 'string' &&
      channel.info.groupScope.length > 0 &&
      channel.info.groupScope.length <= MAX_SESSION_ID_CHARS
        ? channel.info.groupScope
        : undefined;
    this.pushEvent(stream, { t: 'accepted', ch: id, provider: providerId, ...(scope !== undefined ? { scope } : {}) });
    this.pushSession(stream, id, channel.info.remoteSession);
    this.pushIdentity(stream, id, channel);
  }

  /** Forwards a channel's events as inputs and pumps its frames. */
  private wire(stream: string, id: string, channel: ChannelV1): void {
    const drained = this.inbound.pump(stream, channel);
    channel.onEvent((event) => {
      if (event.type === 'ready') {
        const mount = this.mountsByKey.get(stream);
        if (mount?.channel === channel) mount.onWireReady();
      }
      if (this.closed) return;
      switch (event.type) {
        case 'ready':
          return this.pushEvent(stream, { t: 'ready', ch: id });
        case 'backpressure':
          return this.pushEvent(stream, { t: 'backpressure', ch: id, bytes: event.bufferedBytes });
        case 'reconnecting':
          return this.pushEvent(stream, { t: 'reconnecting', ch: id, note: `attempt ${event.attempt}: ${event.reason}` });
        // A reconnect may authenticate another key (a roll-over): the identity is told again.
        case 'session':
          return (this.pushSession(stream, id, event.id), this.pushIdentity(stream, id, channel));
        // The channel's end goes in after every frame it received before it ended (the provider
        // still yields those): arrival order, so a reply is never overtaken by the close behind it.
        case 'fatal':
          return void drained.then(() => this.closed || this.pushEvent(stream, { t: 'fatal', ch: id, code: event.error.code, note: event.error.message }));
        case 'closed':
          return void drained.then(() => this.closed || this.pushEvent(stream, { t: 'closed', ch: id, note: event.reason }));
      }
    });
  }

  /** A remote session id a provider told (at open, accept or reconnect) goes in as an input; one that cannot be an id is not recorded. */
  private pushSession(stream: string, id: string, session: unknown): void {
    if (typeof session !== 'string' || session.length === 0 || session.length > MAX_SESSION_ID_CHARS) return;
    this.pushEvent(stream, { t: 'session', ch: id, id: session });
  }

  /** The channel's authenticated public-key identity, if its provider reports one, goes in as an input. */
  private pushIdentity(stream: string, id: string, channel: ChannelV1): void {
    const event = identityEvent(id, channel.info.remoteIdentity);
    if (event !== undefined) this.pushEvent(stream, event);
  }

  private pushEvent(stream: string, event: EdgeEvent): void {
    const seq = this.inbound.nextSeq(stream);
    this.runtime.pushInput(EVENT_INPUT, { stream, seq, data: encodeEvent(event) }, OWNED);
  }

  /** Applies one admitted edge event to the tree (capture of `beat`). */
  private admitEvent(stream: string, event: EdgeEvent, beat: number): void {
    if (event.t === 'rejected') return this.admitRejection(event);
    const [peer, mode, mountName] = stream.split('/') as [string, string, string];
    const mount = this.mountsByKey.get(stream);
    if (event.t === 'accepted') return this.admitAccepted(mount, peer, mode, mountName, event.ch, event.provider, beat, event.scope);
    if (mount === undefined) return;
    const current = event.ch === mount.channelId;
    switch (event.t) {
      case 'opened': {
        // Undefined during an offline replay: the tree is rebuilt from the events alone.
        const channel = this.channels.get(event.ch);
        if (mount.pendingOpen !== event.ch) {
          // A dial overtaken by a reconfigure or close: nobody wants this channel any more.
          this.channels.delete(event.ch);
          channel?.close('superseded').catch(() => undefined);
          return;
        }
        mount.pendingOpen = undefined;
        mount.refusals = 0;
        mount.attach(event.ch, channel);
        mount.setState('open');
        mount.telemetry.event('open', beat);
        this.tell({ type: 'open', mount, beat });
        mount.flushBeatQueue();
        return;
      }
      case 'open_failed': {
        if (mount.pendingOpen !== event.ch) return;
        mount.pendingOpen = undefined;
        return this.fail(mount, `open failed (${event.code}): ${event.note}`, beat, 'error', event.code);
      }
      case 'ready': {
        if (!current) return;
        mount.telemetry.count('ready_count', beat);
        mount.telemetry.event('ready', beat);
        if (mount.bpFlag) {
          mount.bpFlag = false;
          mount.telemetry.backpressured(mount.organHold, beat);
        }
        mount.flushBeatQueue();
        return;
      }
      case 'backpressure': {
        if (!current) return;
        mount.telemetry.count('bp_count', beat);
        mount.telemetry.event('backpressure', beat);
        if (!mount.bpFlag) {
          mount.bpFlag = true;
          mount.telemetry.backpressured(true, beat);
          mount.emit(TOPIC.backpressure, 'warn', `backpressure (${event.bytes} bytes buffered)`);
        }
        return;
      }
      case 'reconnecting': {
        if (current) mount.telemetry.event('reconnecting', beat);
        return;
      }
      case 'fatal': {
        if (!current) return;
        return this.fail(mount, `channel fatal (${event.code}): ${event.note}`, beat, 'fatal', event.code);
      }
      case 'session': {
        // Any channel of the mount speaks for the remote process (ours, or one the peer opened to it).
        if (!current && !mount.inboundOnly.includes(event.ch)) return;
        return this.admitSession(mount, event.id, beat);
      }
      case 'identity': {
        if (!current && !mount.inboundOnly.includes(event.ch)) return;
        return writePeerIdentity(this.tree, mount.peer, event);
      }
      case 'closed': {
        if (!current) {
          mount.inboundOnly = mount.inboundOnly.filter((id) => id !== event.ch);
          this.channels.delete(event.ch);
          return;
        }
        this.channels.delete(event.ch);
        mount.channel = undefined;
        mount.channelId = undefined;
        if (mount.state === 'error' || mount.state === 'closed') return;
        if (this.promoteInbound(mount, beat)) return;
        mount.setState('closed');
        mount.telemetry.event('closed', beat);
        this.tell({ type: 'closed', mount, beat, note: event.note });
        return;
      }
    }
  }

  /**
   * Records the remote session of `mount`. A new id after an earlier one means the peer restarted:
   * told as CEI `tp_newsess` and as a `session` mount event, so organs resubscribe. The same id
   * (a plain reconnect) changes nothing.
   */
  private admitSession(mount: MountImpl, id: string, beat: number): void {
    const session = writeMountSession(this.tree, mount.peer, mount.mode, mount.mount, id);
    if (session === undefined) return;
    mount.telemetry.event('session', beat);
    if (session.seq > 1n) mount.emit(TOPIC.newSession, 'info', `the peer is a new session (${session.seq}): it restarted; what it held for this mount is gone`);
    this.tell({ type: 'session', mount, beat, session });
  }

  private fail(mount: MountImpl, note: string, beat: number, type: 'error' | 'fatal' = 'error', code?: string): void {
    // The same refusal again (an organ redialling a peer that does not accept our key) is told
    // at warn: the first one said it at error already, and a log line per redial is noise.
    const refused = code !== undefined && REFUSAL_CODES.includes(code);
    mount.refusals = refused ? mount.refusals + 1 : 0;
    const severity = refused && mount.refusals > 1 ? 'warn' : 'error';
    // Only the beat queue is counted: it is decided by the tree, so a replay drops the same frames.
    // The wire queue (frames a channel refused at the edge) exists live only; counting it would
    // put socket timing into the tree.
    const dropped = mount.dropQueues().queued;
    this.detach(mount, 'fatal', true);
    mount.setState('error', note);
    mount.telemetry.count('fatal_count', beat);
    mount.telemetry.event('fatal', beat);
    mount.emit(TOPIC.fatal, severity, dropped > 0 ? `${note} (${dropped} queued frame(s) dropped)` : note);
    this.tell({ type, mount, beat, note, ...(code !== undefined ? { code } : {}) });
    this.promoteInbound(mount, beat);
  }

  /**
   * Our own channel is gone but the peer has one open to this mount: carry on over theirs
   * (the mount becomes an accepted one). True when it did.
   */
  private promoteInbound(mount: MountImpl, beat: number): boolean {
    const id = mount.inboundOnly.shift();
    if (id === undefined) return false;
    mount.initiator = false;
    mount.attach(id, this.channels.get(id)); // undefined during an offline replay
    mount.setState('open');
    mount.telemetry.event('accepted', beat);
    this.tell({ type: 'accepted', mount, beat });
    mount.flushBeatQueue();
    return true;
  }

  private admitAccepted(
    existing: MountImpl | undefined,
    peer: string,
    mode: string,
    mountName: string,
    id: string,
    providerId: string,
    beat: number,
    scope?: string,
  ): void {
    const channel = this.channels.get(id); // undefined during an offline replay
    if (existing?.initiator && existing.state !== 'closed' && existing.state !== 'error') {
      // Both sides dialled the same mount: our own channel carries our sends; theirs only brings frames in.
      existing.inboundOnly.push(id);
      return;
    }
    if (existing === undefined && this.mountCount(peer) >= this.maxMountsPerPeer) {
      // Refused at admission (a replay decides the same): the channel goes, nothing else changes.
      this.channels.delete(id);
      channel?.close('mount-limit').catch(() => undefined);
      this.limitHit(peer, `channel to ${mountKey(peer, mode, mountName)} refused: peer ${peer} has ${this.maxMountsPerPeer} mounts already (maxMountsPerPeer)`);
      return;
    }
    const mount = existing ?? this.newMount(peer, mode, mountName);
    this.detach(mount, 'replaced-by-accept');
    const provider = this.providers.get(providerId);
    const caps = provider?.caps ?? [];
    // The mode's accept policy (crc32c, deflate); AEAD always follows the peer's key.
    const outcome = negotiateSerializer(this.allowance(peer, this.acceptPolicies.get(mode)), caps);
    const aeadDown = this.aeadDowngrade(peer, outcome.downgraded);
    mount.initiator = false;
    mount.provider = providerId;
    mount.providerCaps = caps;
    if (aeadDown === 'refused') {
      mount.channelId = id;
      mount.channel = channel;
      this.tree.batch(() => {
        mount.telemetry.init(beat);
        this.refuseWithoutAead(mount, providerId, outcome.on, false, COMPARATOR_VERSION);
      });
      this.tell({ type: 'error', mount, beat, note: `provider ${providerId} lacks the aead cap` });
      return;
    }
    mount.policy = this.policyFor(peer, mode, mountName, outcome.on, COMPARATOR_VERSION);
    mount.attach(id, channel);
    // Group frames are sealed under a group key or not sent at all: only an AEAD mount gets a scope.
    mount.groupScope = scope !== undefined && mount.policy.aead !== undefined ? `${providerId}:${scope}` : undefined;
    this.tree.batch(() => {
      writeMountConfig(this.tree, {
        peer,
        mode,
        mount: mountName,
        localNode: this.options.localNode,
        required: [],
        preferred: [],
        updLatest: false,
        serializer: { ...outcome.on, warnDown: false, cmpMaxVer: COMPARATOR_VERSION, ...(aeadDown === 'allowed' ? { aeadDown: true } : {}) },
      });
      if (aeadDown === 'allowed') this.noteAeadDowngrade(mount, `provider ${providerId} lacks the aead cap`);
      writeTransport(this.tree, mount.path, providerId, caps, false);
      writeService(this.tree, { peer, mode, mount: mountName, localNode: this.options.localNode, provider: providerId, updLatest: false });
      mount.telemetry.init(beat);
      mount.setState('open');
      mount.telemetry.event('accepted', beat);
    });
    this.tell({ type: 'accepted', mount, beat });
    mount.flushBeatQueue();
  }

  /** Counts an admitted (possibly coalesced) refusal; {@link writeRefusals} writes the beat's total at commit. */
  private admitRejection(event: Extract<EdgeEvent, { t: 'rejected' }>): void {
    const n = Number.isSafeInteger(event.n) && event.n! > 0 ? event.n! : 1;
    const entry = this.beatRefusals.get(event.provider);
    this.beatRefusals.set(event.provider, { n: (entry?.n ?? 0) + n, code: event.code, note: event.note, claimed: event.claimed });
  }

  /** One `/net/listeners/<provider>` write and one CEI fact per listener that refused in this beat. */
  private writeRefusals(beat: number): void {
    for (const [provider, r] of this.beatRefusals) {
      writeRejection(this.tree, provider, `${r.code}: ${r.note}`, beat, r.n);
      const claimed =
        r.claimed !== undefined && explainNotWord(r.claimed) === undefined && [...this.mountsByKey.values()].some((m) => m.peer === r.claimed)
          ? r.claimed
          : undefined;
      const who = r.claimed === undefined ? 'a connection' : `a peer claiming to be ${JSON.stringify(r.claimed)}`;
      this.runtime.cei.emit({
        topic: TOPIC.fatal,
        severity: 'warn',
        note: `listener ${provider} refused ${r.n === 1 ? '' : `${r.n} connections this beat, last `}${who} (${r.code}): ${r.note}`,
        origin: 'tp/listen',
        ...(claimed !== undefined ? { peer: claimed } : {}),
      });
    }
    this.beatRefusals.clear();
  }

  /** A refusal at the edge: counted now, pushed as an input at the next commit (one per listener per beat). */
  private refuseAtEdge(stream: string, provider: string, code: string, note: string, claimed: string | undefined): void {
    if (this.closed) return;
    const entry = this.edgeRefusals.get(stream);
    this.edgeRefusals.set(stream, { provider, n: (entry?.n ?? 0) + 1, code, note, claimed });
  }

  private flushEdgeRefusals(): void {
    for (const [stream, r] of this.edgeRefusals)
      this.pushEvent(stream, { t: 'rejected', provider: r.provider, code: r.code, note: r.note, claimed: r.claimed, n: r.n });
    this.edgeRefusals.clear();
  }

  /** The mounts of `peer` (a few per peer: a walk of the map is cheaper than an index to keep). */
  private *mountsOf(peer: string): Iterable<MountImpl> {
    for (const mount of this.mountsByKey.values()) if (mount.peer === peer) yield mount;
  }

  private mountCount(peer: string): number {
    let n = 0;
    for (const mount of this.mountsByKey.values()) if (mount.peer === peer) n++;
    return n;
  }

  /** A bound refused something of `peer`'s: a CEI `tp_limit` fact and a counter under `/net/peers/<peer>/limits`. */
  private limitHit(peer: string, note: string): void {
    countLimitHit(this.tree, peer, 'mounts_ref');
    this.runtime.cei.emit({ topic: TOPIC.limitHit, severity: 'warn', note, origin: 'tp/mgr', peer });
  }

  private tell(event: MountEvent): void {
    for (const listener of [...this.mountListeners]) listener(event);
  }

  private checkWord(field: string, value: unknown): asserts value is string {
    const problem = typeof value === 'string' ? explainNotWord(value) : `expected a string, got ${value === undefined ? 'nothing' : typeof value}`;
    if (problem !== undefined) throw transportError('MOUNT_INVALID', `${field} ${JSON.stringify(value)} is not a CEP word: ${problem}`, { field });
  }

  private checkCaps(field: string, caps: readonly string[] | undefined): string[] {
    if (caps === undefined) return [];
    if (!Array.isArray(caps)) throw transportError('MOUNT_INVALID', `${field} must be an array of capability words`, { field });
    caps.forEach((cap, i) => {
      const bad = capProblem(cap);
      if (bad !== undefined) throw transportError('MOUNT_INVALID', `${field}[${i}] ${JSON.stringify(cap)} is not a valid capability name: ${bad}`, { field });
    });
    return [...new Set(caps)].sort();
  }
}

/** An event's bytes are encoded for its input alone: the log keeps them without a copy. */
const OWNED = Object.freeze({ owned: true });

/** The default of {@link TransportManagerOptions.inboundBudgetBytes}. */
export const DEFAULT_INBOUND_BUDGET_BYTES = 256 * 1024;

/** The default of {@link TransportManagerOptions.inboundQueuedBytesPerPeer}. */
export const DEFAULT_INBOUND_QUEUED_BYTES_PER_PEER = 4 * 1024 * 1024;

/** The default of {@link TransportManagerOptions.inboundBusyBytes}: above a call's frames, below a mirror part. */
export const DEFAULT_INBOUND_BUSY_BYTES = 8 * 1024;

/** The default of {@link TransportManagerOptions.maxMountsPerPeer}. */
export const DEFAULT_MAX_MOUNTS_PER_PEER = 64;

function positive(option: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 1) throw transportError('OPTIONS_INVALID', `${option} must be a whole number ≥ 1, got ${String(value)}`, { option });
  return v;
}

/** Caps are names (words, or references like `crc32c`, as the reference interns them). */
function capProblem(cap: unknown): string | undefined {
  if (typeof cap !== 'string') return 'not a string';
  try {
    name(cap);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

function codeOf(error: unknown): string {
  return error instanceof CepError ? error.code : 'OPEN_FAILED';
}
