import { timingSafeEqual } from 'node:crypto';
import {
  PROVIDER_SPEC_V1,
  type ChannelV1,
  type ListenOptionsV1,
  type ListenerV1,
  type OpenRequestV1,
  type ProviderV1,
  type RejectionV1,
} from '@cep/provider-spec';
import { MemoryChannel } from './channel.ts';
import { memoryError, type MemoryErrorCode } from './errors.ts';
import { networkState, type Endpoint, type Host } from './network.ts';
import { checkName, MEMORY_RELIABLE_CAPS, MEMORY_UNRELIABLE_CAPS, resolveOptions, type MemoryOptions } from './options.ts';
import { directionKey, FateStream } from './schedule.ts';
import type { ChannelBasics } from './types.ts';

const providers = new WeakMap<ProviderV1, Set<MemoryChannel>>();

/** The open channels of a provider made by {@link memory}, or undefined for any other provider. */
export function channelsOf(provider: ProviderV1): Set<MemoryChannel> | undefined {
  return providers.get(provider);
}

function checkAddress(address: unknown): string {
  if (typeof address !== 'string' || address.length === 0 || address.length > 256) {
    throw memoryError('ADDRESS_INVALID', `a memory address is a non-empty string of at most 256 characters (e.g. "saturn"), got ${JSON.stringify(address)}`);
  }
  return address;
}

/** Calls user code whose failure must not change the provider's answer. */
function safely(fn: () => void): void {
  try {
    fn();
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

/**
 * Why the two ends' keys do not let `dialer` (claiming `dialerPeer`) and `listener` reach each
 * other, or `undefined` when they do: both hold no keys, or each holds the same key for the other.
 */
function keyProblem(
  dialerKeys: ReadonlyMap<string, Uint8Array> | undefined,
  listenerKeys: ReadonlyMap<string, Uint8Array> | undefined,
  dialerPeer: string,
  listenerPeer: string,
): string | undefined {
  if (dialerKeys === undefined && listenerKeys === undefined) return undefined;
  const proof = dialerKeys?.get(listenerPeer);
  const expected = listenerKeys?.get(dialerPeer);
  if (listenerKeys === undefined) return `"${listenerPeer}" holds no keys, so it cannot prove it is "${listenerPeer}"`;
  if (expected === undefined) return `"${listenerPeer}" has no key for a peer named "${dialerPeer}"`;
  if (proof === undefined || !timingSafeEqual(proof, expected))
    return `the key "${dialerPeer}" holds for "${listenerPeer}" is not the one "${listenerPeer}" holds for it`;
  return undefined;
}

/**
 * An in-process CEP transport provider. Providers made with the same `network` reach each
 * other by address (`listen({ address: 'saturn' })`, `open({ address: 'saturn', peer:
 * 'saturn', … })`); frames are copied, flow control is real (a receiver that stops
 * pulling stops its sender), and in `unreliable` mode a seeded schedule drops, duplicates
 * and reorders frames deterministically. Test hooks: `memoryHooks(provider)`.
 *
 * @example
 * const net = memoryNetwork();
 * const saturn = memory({ network: net, peer: 'saturn', mode: 'reliable' });
 * await saturn.listen!({ address: 'saturn' }, (channel) => manager.accept(channel));
 * const earth = memory({ network: net, peer: 'earth', mode: 'reliable' });
 * const channel = await earth.open({ peer: 'saturn', mode: 'link', mount: 'main', localNode: 'earth', address: 'saturn' });
 */
export function memory(options: MemoryOptions): ProviderV1 {
  const resolved = resolveOptions(options);
  const net = networkState(options.network);
  const channels = new Set<MemoryChannel>();
  const listeners = new Set<ListenerV1>();
  let closed = false;

  const host: Host = {
    options: resolved,
    // Per instance, numbered per network so runs are reproducible: a new instance is a restart.
    session: `${resolved.peer}.${++net.starts}`,
    makeEnd(basics: ChannelBasics): MemoryChannel {
      const fates = resolved.mode === 'unreliable' ? new FateStream(resolved.seed, resolved.schedule, basics.scheduleKey) : null;
      const channel = new MemoryChannel(
        {
          provider: resolved.id,
          peer: basics.peer,
          mode: basics.mode,
          mount: basics.mount,
          initiator: basics.initiator,
          remoteAddress: basics.remoteAddress,
          maxFrameBytes: basics.maxFrameBytes,
          sessionId: basics.sessionId,
          ...(basics.remoteSession !== undefined ? { remoteSession: basics.remoteSession } : {}),
        },
        provider,
        resolved,
        fates,
        resolved.capture || basics.loose,
        (ch) => channels.delete(ch),
      );
      channels.add(channel);
      return channel;
    },
  };

  function refuse(endpoint: Endpoint, code: MemoryErrorCode, message: string): never {
    const rejection: RejectionV1 = { code, reason: message, claimedPeer: resolved.peer, remoteAddress: resolved.peer };
    if (endpoint.onReject !== undefined) safely(() => endpoint.onReject!(rejection));
    throw memoryError(code, message, { peer: resolved.peer });
  }

  const provider: ProviderV1 = {
    specificationVersion: PROVIDER_SPEC_V1,
    id: resolved.id,
    caps: Object.freeze([...(resolved.mode === 'reliable' ? MEMORY_RELIABLE_CAPS : MEMORY_UNRELIABLE_CAPS)]),

    async open(request: OpenRequestV1): Promise<ChannelV1> {
      if (closed) throw memoryError('OPEN_FAILED', `memory provider "${resolved.id}" is closed; make a new one`);
      if (request.signal?.aborted === true) throw memoryError('OPEN_ABORTED', `opening "${request.peer}" at "${request.address}" was aborted`);
      checkName('peer', request.peer);
      checkName('mode', request.mode);
      checkName('mount', request.mount);
      const address = checkAddress(request.address);
      if (resolved.keys !== undefined && !resolved.keys.has(request.peer)) {
        throw memoryError('AUTH_FAILED', `no key is configured for peer "${request.peer}"; add it to keys`, { peer: request.peer });
      }
      const sessionId = `mem-${++net.sessions}`;
      const basics = { mode: request.mode, mount: request.mount, sessionId };
      const outKey = directionKey(resolved.peer, request.peer, request.mode, request.mount);
      if (resolved.capture) {
        return host.makeEnd({
          ...basics,
          peer: request.peer,
          initiator: true,
          remoteAddress: address,
          maxFrameBytes: resolved.maxFrameBytes,
          scheduleKey: outKey,
          loose: true,
        });
      }
      const endpoint = net.endpoints.get(address);
      if (endpoint === undefined) {
        throw memoryError(
          'OPEN_FAILED',
          `nothing listens at "${address}" on this memory network; call listen({ address: "${address}" }) on the far provider first`,
          {
            address,
          },
        );
      }
      const far = endpoint.host.options;
      if (far.peer !== request.peer) {
        refuse(endpoint, 'PEER_MISMATCH', `"${address}" belongs to peer "${far.peer}", not "${request.peer}"`);
      }
      if (far.mode !== resolved.mode) {
        refuse(
          endpoint,
          'PROTOCOL_ERROR',
          `a ${resolved.mode} memory provider cannot open a channel to a ${far.mode} one at "${address}"; use the same mode on both sides`,
        );
      }
      const problem = keyProblem(resolved.keys, far.keys, resolved.peer, request.peer);
      if (problem !== undefined) refuse(endpoint, 'AUTH_FAILED', `authentication failed: ${problem}`);
      const maxFrameBytes = Math.min(resolved.maxFrameBytes, far.maxFrameBytes);
      const local = host.makeEnd({
        ...basics,
        peer: request.peer,
        initiator: true,
        remoteAddress: address,
        maxFrameBytes,
        scheduleKey: outKey,
        loose: false,
        remoteSession: endpoint.host.session,
      });
      const remote = endpoint.host.makeEnd({
        ...basics,
        peer: resolved.peer,
        initiator: false,
        remoteAddress: resolved.peer,
        maxFrameBytes,
        scheduleKey: directionKey(request.peer, resolved.peer, request.mode, request.mount),
        loose: false,
        remoteSession: host.session,
      });
      MemoryChannel.link(local, remote);
      safely(() => endpoint.onChannel(remote));
      return local;
    },

    async listen(listenOptions: ListenOptionsV1, onChannel: (channel: ChannelV1) => void): Promise<ListenerV1> {
      if (closed) throw memoryError('OPEN_FAILED', `memory provider "${resolved.id}" is closed; make a new one`);
      const address = checkAddress(listenOptions.address);
      if (net.endpoints.has(address)) {
        throw memoryError('ADDRESS_IN_USE', `"${address}" already has a listener on this memory network; pick another address or close that listener`, {
          address,
        });
      }
      const endpoint: Endpoint = { host, onChannel, onReject: listenOptions.onReject };
      net.endpoints.set(address, endpoint);
      const listener: ListenerV1 = {
        address,
        async close() {
          // Accepted channels belong to the provider and outlive the listener, as with sockets.
          if (net.endpoints.get(address) === endpoint) net.endpoints.delete(address);
          listeners.delete(listener);
        },
      };
      listeners.add(listener);
      return listener;
    },

    async close(): Promise<void> {
      closed = true;
      for (const listener of [...listeners]) await listener.close();
      for (const channel of [...channels]) await channel.close(`provider "${resolved.id}" closed`);
    },
  };
  providers.set(provider, channels);
  return provider;
}
