import type { ChannelV1, RejectionV1 } from '@cep/provider-spec';
import { memoryError } from './errors.ts';
import type { MemoryChannel } from './channel.ts';
import type { ResolvedMemoryOptions } from './options.ts';
import type { ChannelBasics } from './types.ts';

/**
 * A space in which memory providers find each other by address. Make one per test (or
 * per simulated cluster): two networks share nothing, so a listener in one is invisible
 * from the other, and nothing is kept in module-level state.
 */
export interface MemoryNetwork {
  /** Addresses that have a listener right now, sorted (for assertions and logs). */
  addresses(): string[];
}

/** A provider as its network sees it: its options and how to make its end of a channel. */
export interface Host {
  readonly options: ResolvedMemoryOptions;
  /** This provider instance's session, told to the far end of every channel (`remoteSession`). */
  readonly session: string;
  /** Makes this provider's end of a new channel (registered with the provider). */
  makeEnd(basics: ChannelBasics): MemoryChannel;
}

/** What `listen` registers at an address. */
export interface Endpoint {
  readonly host: Host;
  readonly onChannel: (channel: ChannelV1) => void;
  readonly onReject: ((rejection: RejectionV1) => void) | undefined;
}

/** The private state behind a {@link MemoryNetwork}. */
export interface NetworkState {
  readonly endpoints: Map<string, Endpoint>;
  /** Counter behind `sessionId`s, per network so runs are reproducible. */
  sessions: number;
  /** Counter behind each provider instance's own session (its `remoteSession` on the far end). */
  starts: number;
}

const states = new WeakMap<MemoryNetwork, NetworkState>();

/**
 * Makes a new, empty memory network.
 *
 * @example
 * const net = memoryNetwork();
 * const saturn = memory({ network: net, peer: 'saturn', mode: 'reliable' });
 */
export function memoryNetwork(): MemoryNetwork {
  const state: NetworkState = { endpoints: new Map(), sessions: 0, starts: 0 };
  const network: MemoryNetwork = Object.freeze({ addresses: () => [...state.endpoints.keys()].sort() });
  states.set(network, state);
  return network;
}

/** The state of a network made by {@link memoryNetwork}; refuses anything else. */
export function networkState(network: MemoryNetwork): NetworkState {
  const state = typeof network === 'object' && network !== null ? states.get(network) : undefined;
  if (state === undefined) throw memoryError('INVALID_OPTIONS', 'options.network must be a value returned by memoryNetwork()', { option: 'network' });
  return state;
}
