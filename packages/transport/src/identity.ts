/**
 * `/net/peers/<peer>/identity/`: who a peer proved to be when its provider authenticates by
 * public key (`ChannelInfoV1.remoteIdentity`). It enters as a recorded edge event, like the
 * session id, so a replay writes the same record at the same beat.
 */
import { name, text, u64, type Name, type Tree } from '@cep/cells';
import { at } from './schema.ts';

/** Longest public key, fingerprint or protocol text recorded (a longer one is not an identity: ignored). */
const MAX_FIELD_CHARS = 256;

/** The edge event that carries an identity (short keys: it is logged once per channel). */
export interface IdentityEvent {
  readonly t: 'identity';
  readonly ch: string;
  /** Public key, base64. */
  readonly key: string;
  readonly fp: string;
  readonly proto?: string;
  readonly ver?: number;
}

function field(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_FIELD_CHARS;
}

/** The event for a channel's `remoteIdentity`, or undefined when the provider reported none (or nothing usable). */
export function identityEvent(ch: string, identity: unknown): IdentityEvent | undefined {
  if (typeof identity !== 'object' || identity === null) return undefined;
  const { publicKey, fingerprint, protocol, version } = identity as Record<string, unknown>;
  if (!field(publicKey) || !field(fingerprint)) return undefined;
  return {
    t: 'identity',
    ch,
    key: publicKey,
    fp: fingerprint,
    ...(field(protocol) ? { proto: protocol } : {}),
    ...(typeof version === 'number' && Number.isSafeInteger(version) && version >= 0 ? { ver: version } : {}),
  };
}

export function identityPath(peer: string): Name[] {
  return at('net', 'peers', peer, 'identity');
}

/** Writes `/net/peers/<peer>/identity/{name, public_key, fingerprint, protocol, version}` (the fields of noise-session's `peerIdentity`). */
export function writePeerIdentity(tree: Tree, peer: string, event: IdentityEvent): void {
  const root = identityPath(peer);
  tree.batch(() => {
    tree.set([...root, name('name')], text(peer));
    tree.set([...root, name('public_key')], text(event.key));
    tree.set([...root, name('fingerprint')], text(event.fp));
    if (event.proto !== undefined) tree.set([...root, name('protocol')], text(event.proto));
    if (event.ver !== undefined) tree.set([...root, name('version')], u64(BigInt(event.ver)));
  });
}
