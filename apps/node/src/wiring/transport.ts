/**
 * Wiring of the transport: the built-in providers (nats only with a `nats` section), the
 * plug-ins under `providers`, one provider per id the config uses (keys from `config.keys`,
 * never from process-wide state), the transport manager over the peer's runtime (catalog
 * under `/net/transports/`, telemetry under `/net/telemetry/`), listeners for `config.listen`,
 * and shutdown hooks that close them in reverse order. Any failure throws, so `startPeer`
 * unwinds what was started.
 */
import type { ProviderV1 } from '@cep/transport/provider';
import { createTransportManager, type TransportManager } from '@cep/transport';
import { tcp } from '@cep/provider-tcp';
import { pipe } from '@cep/provider-pipe';
import type { StreamIdentity } from '@cep/provider-tcp';
import { AllowList } from '@cep/noise-session';
import { udp } from '@cep/provider-udp';
import type { NatsCredentials } from '@cep/provider-nats';
import type { PeerConfig } from '../config/schema.ts';
import type { PeerContext } from './context.ts';
import { loadProviderPlugins } from './provider-plugins.ts';
import { admitsPeer, aeadOptional } from '../config/peer-policy.ts';

/** What the transport wiring reports back. */
export interface TransportHandle {
  /** Bound listen addresses (OS-chosen ports filled in), by provider id. */
  readonly listening: Readonly<Record<string, string>>;
  readonly wired: boolean;
  /** The manager: organs configure mounts through it. */
  readonly manager: TransportManager;
}

type PeerKeys = { localPeer: string; keys: Record<string, Uint8Array> };

/**
 * What the built-in providers with a Noise session (tcp, pipe, udp) get: a peer listed by
 * public key is reached through the Noise session (its pre-shared key, if any, mixed in as
 * psk3); a peer with only a pre-shared key through the legacy handshake (udp: the HMAC
 * envelope). nats keeps its pre-shared-key handshake and gets `keys` alone.
 */
export function sessionCredentials(config: PeerConfig, admitted: Record<string, Uint8Array>): { keys: Record<string, Uint8Array>; identity?: StreamIdentity } {
  const identityPeers = Object.keys(config.public_keys).filter((peer) => admitsPeer(config, peer));
  const keys: Record<string, Uint8Array> = {};
  for (const [peer, key] of Object.entries(admitted)) if (!identityPeers.includes(peer)) keys[peer] = key;
  if (config.identity === undefined) return { keys };
  const psks: Record<string, Uint8Array> = {};
  for (const peer of identityPeers) if (admitted[peer] !== undefined) psks[peer] = admitted[peer];
  const allowList = new AllowList(Object.fromEntries(identityPeers.map((peer) => [peer, config.public_keys[peer]!])));
  return { keys, identity: { staticKey: config.identity.staticKey, allowList, psks } };
}

/** What tcp and pipe get: the session credentials, and how records are tagged (`table_ghash`). */
export function streamSession(
  config: PeerConfig,
  peer: PeerKeys,
): { localPeer: string; keys: Record<string, Uint8Array>; identity?: StreamIdentity; tableGhash: boolean } {
  return { localPeer: peer.localPeer, ...sessionCredentials(config, peer.keys), tableGhash: config.table_ghash };
}

/** The config's snake_case credentials as the provider's options. */
function natsCredentials(credentials: NonNullable<PeerConfig['nats']>['credentials']): NatsCredentials | undefined {
  if (credentials === undefined) return undefined;
  if ('token' in credentials) return { token: credentials.token };
  if ('user' in credentials) return { user: credentials.user, pass: credentials.pass };
  if ('nkey_seed_file' in credentials) return { nkeySeedFile: credentials.nkey_seed_file };
  return { credsFile: credentials.creds_file };
}

/** Every provider this peer registers: built-ins, nats when configured, then plug-ins. */
async function makeProviders(config: PeerConfig, peer: PeerKeys): Promise<ProviderV1[]> {
  const stream = streamSession(config, peer);
  const providers = [tcp(stream), pipe(stream), udp({ localPeer: peer.localPeer, ...sessionCredentials(config, peer.keys) })];
  if (config.nats !== undefined) {
    // Loaded only when configured: the nats client is a large part of the bundle, and a peer
    // without a `nats` section should not parse it before its HTTP endpoint answers.
    const { nats } = await import('@cep/provider-nats');
    const credentials = natsCredentials(config.nats.credentials);
    providers.push(nats({ ...peer, servers: config.nats.servers, ...(credentials !== undefined ? { credentials } : {}) }));
  }
  providers.push(...(await loadProviderPlugins(config.providers, peer)));
  return providers;
}

/** Starts providers, manager and listeners for `ctx.config`. */
export async function wireTransport(ctx: PeerContext): Promise<TransportHandle> {
  const { config, log, runtime } = ctx;
  // A keyed peer not listed under peers is refused at the door unless peer_policy gives it a
  // default enclave: its key is not handed to the providers, so its handshake fails (AUTH_FAILED,
  // counted under /net/listeners/<id>/ and told as tp_fatal). Never silently our own enclave.
  const keys: Record<string, Uint8Array> = {};
  const refused: string[] = [];
  for (const [peer, key] of Object.entries(config.keys)) {
    if (admitsPeer(config, peer)) keys[peer] = key;
    else refused.push(peer);
  }
  if (refused.length > 0) {
    log.warn({ peers: refused }, 'keyed peers not listed under peers are refused (set peer_policy.default_enclave to admit them)');
  }
  const optional = Object.keys(config.keys).filter((peer) => aeadOptional(config, peer));
  if (optional.length > 0) log.warn({ peers: optional }, 'aead: optional — mounts to these peers may run in plaintext');
  // Every provider is registered, so negotiation can pick any of them; only used ones listen.
  const made = await makeProviders(config, { localPeer: config.peer, keys });
  const providers = ctx.wrapProvider === undefined ? made : made.map(ctx.wrapProvider);
  const addresses = new Map<string, string>();
  for (const peer of config.peers) addresses.set(`${peer.name}/${peer.provider}`, peer.address);
  const manager = createTransportManager(runtime, {
    localNode: config.peer,
    providers,
    addressOf: (peer, providerId) => addresses.get(`${peer}/${providerId}`),
    peerKey: (peer) => keys[peer],
    aeadOptional: (peer) => aeadOptional(config, peer),
    inboundBudgetBytes: config.limits.inbound_beat_bytes,
    inboundBusyBytes: config.limits.busy_beat_bytes,
    inboundQueuedBytesPerPeer: config.limits.peer_queued_bytes,
    maxMountsPerPeer: config.limits.mounts_per_peer,
  });
  ctx.onShutdown('transport manager', () => manager.close());
  const listening: Record<string, string> = {};
  for (const [id, address] of Object.entries(config.listen)) {
    if (address === undefined) continue;
    const listener = await manager.listen(id, address);
    listening[id] = listener.address;
    log.info({ provider: id, address: listener.address }, 'listening');
  }
  return { listening, wired: true, manager };
}
