import { noiseError } from './errors.ts';
import { encodeKey, fingerprint, KEY_BYTES } from './keys.ts';

/** Keys one peer may hold at once: the current one and, during a roll-over, its successor. */
export const MAX_KEYS_PER_PEER = 2;

/** A key taken off the allow-list; sessions authenticated by it are being dropped. */
export interface RevokedKey {
  readonly peer: string;
  readonly publicKey: Uint8Array;
  readonly fingerprint: string;
}

/** Allow-list contents: peer name → one public key, or two during a roll-over. */
export type AllowListEntries = Readonly<Record<string, Uint8Array | readonly Uint8Array[]>>;

/**
 * Which static public keys may connect, and under which peer name. A key belongs to
 * exactly one name; a name holds at most {@link MAX_KEYS_PER_PEER} keys. Removing a key
 * (or replacing the whole list on a config reload) tells every `onRevoke` listener, and
 * sessions opened with this list close themselves with `NOISE_KEY_REVOKED`.
 */
export class AllowList {
  private readonly byPeer = new Map<string, Uint8Array[]>();
  private readonly byKey = new Map<string, string>();
  private readonly listeners = new Set<(revoked: RevokedKey) => void>();

  constructor(entries: AllowListEntries = {}) {
    for (const [peer, keys] of Object.entries(entries)) {
      for (const key of keys instanceof Uint8Array ? [keys] : keys) this.add(peer, key);
    }
  }

  /** Accepts `publicKey` for `peer`. Throws `NOISE_INVALID_OPTIONS` when it is another peer's key or the peer has two already. */
  add(peer: string, publicKey: Uint8Array): void {
    if (peer.length === 0) throw noiseError('NOISE_INVALID_OPTIONS', 'a peer name must not be empty');
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== KEY_BYTES) {
      throw noiseError('NOISE_INVALID_OPTIONS', `the key of peer "${peer}" must be ${KEY_BYTES} bytes`, { peer });
    }
    const text = encodeKey(publicKey);
    const owner = this.byKey.get(text);
    if (owner === peer) return;
    if (owner !== undefined) {
      throw noiseError('NOISE_INVALID_OPTIONS', `key ${fingerprint(publicKey)} is already peer "${owner}"'s; one key identifies one peer`, { peer, owner });
    }
    const keys = this.byPeer.get(peer) ?? [];
    if (keys.length >= MAX_KEYS_PER_PEER) {
      throw noiseError('NOISE_INVALID_OPTIONS', `peer "${peer}" already has ${MAX_KEYS_PER_PEER} keys; remove the old one when its roll-over is done`, {
        peer,
      });
    }
    keys.push(new Uint8Array(publicKey));
    this.byPeer.set(peer, keys);
    this.byKey.set(text, peer);
  }

  /** Stops accepting `publicKey`; its open sessions are dropped. False when it was not listed for `peer`. */
  remove(peer: string, publicKey: Uint8Array): boolean {
    const text = encodeKey(publicKey);
    if (this.byKey.get(text) !== peer) return false;
    this.byKey.delete(text);
    const keys = this.byPeer.get(peer)!.filter((key) => encodeKey(key) !== text);
    if (keys.length === 0) this.byPeer.delete(peer);
    else this.byPeer.set(peer, keys);
    const revoked: RevokedKey = { peer, publicKey: new Uint8Array(publicKey), fingerprint: fingerprint(publicKey) };
    for (const listener of [...this.listeners]) listener(revoked);
    return true;
  }

  /** Sets the whole list (a config reload): keys no longer present are removed as by {@link remove}. */
  replace(entries: AllowListEntries): void {
    const next = new AllowList(entries);
    const gone: [string, Uint8Array][] = [];
    for (const [peer, keys] of this.byPeer) {
      for (const key of keys) if (next.ownerOf(key) !== peer) gone.push([peer, key]);
    }
    for (const [peer, keys] of next.byPeer) for (const key of keys) if (this.ownerOf(key) !== peer) this.addUnchecked(peer, key);
    for (const [peer, key] of gone) this.remove(peer, key);
  }

  /** The peer name `publicKey` belongs to, if any. */
  ownerOf(publicKey: Uint8Array): string | undefined {
    return publicKey.length === KEY_BYTES ? this.byKey.get(encodeKey(publicKey)) : undefined;
  }

  /** The keys accepted for `peer` (empty when unknown). */
  keysOf(peer: string): readonly Uint8Array[] {
    return (this.byPeer.get(peer) ?? []).map((key) => new Uint8Array(key));
  }

  /** Every listed peer name. */
  peers(): string[] {
    return [...this.byPeer.keys()];
  }

  /** Calls `listener` for every key removed from now on; returns the unsubscribe function. */
  onRevoke(listener: (revoked: RevokedKey) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private addUnchecked(peer: string, key: Uint8Array): void {
    // Called by replace() after the new list validated; a key moving between peers is removed first.
    const owner = this.ownerOf(key);
    if (owner !== undefined && owner !== peer) this.remove(owner, key);
    const keys = this.byPeer.get(peer) ?? [];
    keys.push(new Uint8Array(key));
    this.byPeer.set(peer, keys);
    this.byKey.set(encodeKey(key), peer);
  }
}
