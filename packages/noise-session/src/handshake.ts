import type { Duplex } from 'node:stream';
import { ByteReader } from './byte-reader.ts';
import { noiseError, NOISE_ERROR_CODES, type NoiseErrorCode } from './errors.ts';
import { fingerprint } from './keys.ts';
import { HandshakeState, type SplitKeys } from './noise-state.ts';
import type { CipherName } from './primitives.ts';
import { checkName, pskFor, MAX_HELLO_BYTES, type InitiatorOptions, type ResponderOptions } from './options.ts';
import {
  ACCEPT,
  checkMagic,
  decodeFields,
  encodeChoice,
  encodeFields,
  encodeFrame,
  encodeOffer,
  encodeReject,
  MAGIC,
  MAX_HANDSHAKE_FRAME,
  MAX_OFFERED_VERSIONS,
  MESSAGE,
  REJECT,
  rejection,
} from './wire.ts';
import { CepError } from '@cep/errors';

/**
 * What each handshake version means: the Noise protocol, then the record format of
 * `session.ts` with that protocol's cipher. A later version is added here and to
 * {@link SUPPORTED_VERSIONS}; old peers keep working through the negotiation in `wire.ts`.
 */
export const VERSIONS: Readonly<Record<number, { readonly protocol: string; readonly cipher: CipherName }>> = {
  1: { protocol: 'Noise_XXpsk3_25519_ChaChaPoly_SHA256', cipher: 'ChaChaPoly' },
  2: { protocol: 'Noise_XXpsk3_25519_AESGCM_SHA256', cipher: 'AESGCM' },
};

/**
 * Versions this build offers and accepts by default, most preferred first. ChaChaPoly
 * first: constant-time and fast on every CPU; AES-GCM (version 2) is accepted, and an
 * operator whose machines all have AES instructions may prefer it (`versions: [2, 1]`).
 */
export const SUPPORTED_VERSIONS: readonly number[] = [1, 2];

/** Who is on the other end, proven by the handshake. */
export interface AuthenticatedPeer {
  /** The remote's peer name (on the allow-list under this name). */
  readonly name: string;
  /** The remote's static public key (32 bytes). */
  readonly publicKey: Uint8Array;
  /** {@link fingerprint} of `publicKey`, for `/net/peers/<peer>/identity` and logs. */
  readonly fingerprint: string;
  /** The handshake version both sides agreed on. */
  readonly version: number;
  /** The Noise handshake hash: unique per session, usable as a channel binding. */
  readonly handshakeHash: Uint8Array;
  /** The initiator's `hello` bytes (on the responder side; empty on the initiator). */
  readonly hello: Uint8Array;
}

/** A finished handshake: the peer, its transport keys and any bytes read past the handshake. */
export interface HandshakeResult {
  readonly peer: AuthenticatedPeer;
  readonly keys: SplitKeys;
  readonly cipher: CipherName;
  readonly rest: Buffer;
}

const EMPTY = new Uint8Array(0);

function checkVersions(versions: readonly number[]): readonly number[] {
  if (versions.length === 0 || versions.length > MAX_OFFERED_VERSIONS || versions.some((v) => VERSIONS[v] === undefined)) {
    throw noiseError('NOISE_INVALID_OPTIONS', `versions must be 1..${MAX_OFFERED_VERSIONS} of ${Object.keys(VERSIONS).join(', ')}`, { versions });
  }
  return versions;
}

function newState(version: number, offer: Buffer, initiator: boolean, staticPrivate: Uint8Array, psk?: Uint8Array): HandshakeState {
  // Every version so far uses XXpsk3; the version byte in the prologue keeps them apart.
  return new HandshakeState({
    pattern: 'XXpsk3',
    cipher: VERSIONS[version]!.cipher,
    initiator,
    prologue: Buffer.concat([offer, Uint8Array.of(version)]),
    staticPrivate,
    ...(psk ? { psk } : {}),
  });
}

async function readFrame(reader: ByteReader): Promise<{ kind: number; body: Buffer }> {
  const length = (await reader.read(2)).readUInt16BE(0);
  if (length === 0 || length > MAX_HANDSHAKE_FRAME) throw noiseError('NOISE_PROTOCOL_ERROR', `a handshake frame of ${length} bytes`, { bytes: length });
  const frame = await reader.read(length);
  return { kind: frame[0]!, body: frame.subarray(1) };
}

async function readMessage(reader: ByteReader): Promise<Buffer> {
  const { kind, body } = await readFrame(reader);
  if (kind === REJECT) throw rejection(body);
  if (kind !== MESSAGE) throw noiseError('NOISE_PROTOCOL_ERROR', `handshake frame kind ${kind} where a message was due`);
  return body;
}

/** Runs `body` with the reader failing on abort; on failure tells the remote why (when it is our verdict) and closes the stream. */
async function guarded<T>(stream: Duplex, signal: AbortSignal | undefined, body: (reader: ByteReader) => Promise<T>): Promise<T> {
  const reader = new ByteReader(stream);
  const abort = (): void => reader.fail(noiseError('NOISE_HANDSHAKE_ABORTED', 'the handshake was aborted by its signal'));
  if (signal?.aborted) abort();
  signal?.addEventListener('abort', abort, { once: true });
  try {
    return await body(reader);
  } catch (error) {
    reader.detach();
    // Tell the remote our verdict (not one it told us, nor a dead stream's), then close.
    const code = error instanceof CepError && error.details['remote'] !== true ? (error.code as NoiseErrorCode) : undefined;
    if (code !== undefined && code !== 'NOISE_HANDSHAKE_TRUNCATED' && NOISE_ERROR_CODES.includes(code) && stream.writable) {
      stream.end(encodeReject(code), () => stream.destroy());
    } else stream.destroy();
    throw error;
  } finally {
    signal?.removeEventListener('abort', abort);
  }
}

function identify(options: ResponderOptions | InitiatorOptions, key: Uint8Array, expected?: string): string {
  const owner = options.allowList.ownerOf(key);
  if (owner === undefined) {
    throw noiseError('NOISE_UNKNOWN_PEER', `the remote's key ${fingerprint(key)} is on no allow-list entry; add it to the peer's keys to admit it`, {
      fingerprint: fingerprint(key),
    });
  }
  if (expected !== undefined && owner !== expected) {
    throw noiseError('NOISE_PEER_MISMATCH', `dialled "${expected}" but the remote proved the key of "${owner}"`, { expected, owner });
  }
  return owner;
}

/** The dialling side's handshake over `stream`. */
export function runInitiator(stream: Duplex, options: InitiatorOptions): Promise<HandshakeResult> {
  const localName = checkName(options.localName, 'localName');
  const peerName = checkName(options.peer, 'peer');
  const hello = options.hello ?? EMPTY;
  if (hello.length > MAX_HELLO_BYTES) throw noiseError('NOISE_INVALID_OPTIONS', `hello may carry at most ${MAX_HELLO_BYTES} bytes`);
  const versions = checkVersions(options.versions ?? SUPPORTED_VERSIONS);
  const psk = pskFor(options, options.peer);
  return guarded(stream, options.signal, async (reader) => {
    const offer = encodeOffer(versions);
    let version = versions[0]!;
    let state = newState(version, offer, true, options.staticKey.privateKey, psk);
    stream.write(Buffer.concat([offer, encodeFrame(MESSAGE, state.writeMessage(EMPTY))]));
    const choice = await reader.read(MAGIC.length + 1);
    checkMagic(choice);
    const chosen = choice[MAGIC.length]!;
    if (chosen === 0)
      throw noiseError('NOISE_VERSION_UNSUPPORTED', `the remote speaks none of versions ${versions.join(', ')}`, { offered: versions, remote: true });
    if (!versions.includes(chosen)) throw noiseError('NOISE_PROTOCOL_ERROR', `the remote chose version ${chosen}, which was not offered`);
    if (chosen !== version) {
      version = chosen;
      state = newState(version, offer, true, options.staticKey.privateKey, psk);
      stream.write(encodeFrame(MESSAGE, state.writeMessage(EMPTY)));
    }
    const payload = state.readMessage(await readMessage(reader), (key) => identify(options, key, options.peer));
    const [name] = decodeFields(payload, 1);
    if (!name!.equals(peerName)) throw noiseError('NOISE_PEER_MISMATCH', `dialled "${options.peer}" but the remote calls itself "${name!.toString('utf8')}"`);
    stream.write(encodeFrame(MESSAGE, state.writeMessage(encodeFields([localName, peerName, hello]))));
    const answer = await readFrame(reader);
    if (answer.kind === REJECT) throw rejection(answer.body);
    if (answer.kind !== ACCEPT) throw noiseError('NOISE_PROTOCOL_ERROR', `handshake frame kind ${answer.kind} where ACCEPT was due`);
    const keys = state.split();
    const publicKey = state.remoteStatic!;
    const rest = reader.detach();
    return {
      peer: { name: options.peer, publicKey, fingerprint: fingerprint(publicKey), version, handshakeHash: keys.handshakeHash, hello: EMPTY },
      keys,
      cipher: VERSIONS[version]!.cipher,
      rest,
    };
  });
}

/** The accepting side's handshake over `stream`. */
export function runResponder(stream: Duplex, options: ResponderOptions): Promise<HandshakeResult> {
  const localName = checkName(options.localName, 'localName');
  const versions = checkVersions(options.versions ?? SUPPORTED_VERSIONS);
  return guarded(stream, options.signal, async (reader) => {
    const head = await reader.read(MAGIC.length + 1);
    checkMagic(head);
    const count = head[MAGIC.length]!;
    if (count === 0 || count > MAX_OFFERED_VERSIONS) throw noiseError('NOISE_PROTOCOL_ERROR', `an offer of ${count} versions`);
    const offered = [...(await reader.read(count))];
    const offer = Buffer.concat([head, Uint8Array.from(offered)]);
    const version = offered.find((v) => versions.includes(v));
    if (version === undefined) {
      stream.write(encodeChoice(0));
      throw noiseError('NOISE_VERSION_UNSUPPORTED', `the remote offered versions ${offered.join(', ')}; this node speaks ${versions.join(', ')}`, { offered });
    }
    let first = await readMessage(reader);
    if (version !== offered[0]) {
      // The optimistic first message was made for another version: ask for a new one.
      stream.write(encodeChoice(version));
      first = await readMessage(reader);
    }
    const state = newState(version, offer, false, options.staticKey.privateKey);
    state.readMessage(first);
    const second = encodeFrame(MESSAGE, state.writeMessage(encodeFields([localName])));
    stream.write(version === offered[0] ? Buffer.concat([encodeChoice(version), second]) : second);
    let owner = '';
    const payload = state.readMessage(await readMessage(reader), (key) => {
      owner = identify(options, key);
      state.setPsk(pskFor(options, owner));
    });
    const [claimed, target, hello] = decodeFields(payload, 3);
    if (claimed!.toString('utf8') !== owner) {
      throw noiseError('NOISE_PEER_MISMATCH', `a remote holding the key of "${owner}" claims to be "${claimed!.toString('utf8')}"`, { owner });
    }
    if (!target!.equals(localName)) {
      throw noiseError('NOISE_PEER_MISMATCH', `the remote dialled "${target!.toString('utf8')}", not this node ("${options.localName}")`, { owner });
    }
    stream.write(encodeFrame(ACCEPT, EMPTY));
    const keys = state.split();
    const publicKey = state.remoteStatic!;
    const rest = reader.detach();
    return {
      peer: { name: owner, publicKey, fingerprint: fingerprint(publicKey), version, handshakeHash: keys.handshakeHash, hello: new Uint8Array(hello!) },
      keys,
      cipher: VERSIONS[version]!.cipher,
      rest,
    };
  });
}
