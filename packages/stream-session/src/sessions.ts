import type { PeerIdentityV1 } from '@cep/provider-spec';
import { secureInitiator, secureResponder, type SecureSession } from '@cep/noise-session';
import type { Established } from './channel.ts';
import type { Conn } from './conn.ts';
import { streamError } from './errors.ts';
import { GmacLink } from './gmac-link.ts';
import { acceptHandshake, dialHandshake, firstByte } from './handshake.ts';
import {
  NOISE_FIRST_BYTE,
  NO_NOISE_CHOICE,
  decodeHello,
  decodeWelcome,
  encodeHello,
  encodeWelcome,
  remoteIdentity,
  toStreamError,
  usesIdentity,
  type StreamIdentity,
} from './identity.ts';
import type { Link } from './link.ts';
import { NoiseLink } from './noise-link.ts';
import type { ResolvedOptions } from './options.ts';

/**
 * The two handshakes a connection may open with, and how a listener tells them apart.
 *
 * The first byte decides: a Noise offer starts with "CEPN" (0x43), a legacy HELLO with its
 * 16-bit length, whose high byte is at most 2. A peer on the identity's allow-list is only
 * ever accepted through Noise (a legacy HELLO naming it is refused, so nobody can downgrade
 * it to the pre-shared key); a peer with only a legacy key only through the legacy handshake.
 */

/** What one dialled or accepted connection needs to know about this provider. */
export interface SessionContext {
  readonly options: ResolvedOptions;
  /** This provider's session id (random per start). */
  readonly session: Uint8Array;
}

/** What a listener learns from an accepted handshake of either kind. */
export interface AcceptedChannel {
  readonly peer: string;
  readonly mode: string;
  readonly mount: string;
  readonly link: Link;
  /** The dialler's session id (hex); absent for an old legacy dialler. */
  readonly session: string | undefined;
  readonly identity?: PeerIdentityV1;
}

/** What a dialled channel names. */
export interface DialTarget {
  readonly peer: string;
  readonly mode: string;
  readonly mount: string;
}

/** Runs the handshake the peer is configured for over a connected `conn`. Throws a CepError with a provider code. */
export async function dialSession(conn: Conn, target: DialTarget, ctx: SessionContext, signal: AbortSignal): Promise<Established> {
  const { options } = ctx;
  if (usesIdentity(options.identity, target.peer)) return dialNoise(conn, target, options.identity, ctx, signal);
  const key = options.keys.get(target.peer);
  if (key === undefined) throw streamError('AUTH_FAILED', `no key or public key is configured for peer "${target.peer}"`, { peer: target.peer });
  const dialled = await dialHandshake(conn, { localPeer: options.localPeer, ...target, key, session: ctx.session });
  return { link: new GmacLink(conn, dialled.keys, target.peer, options.maxFrameBytes, options.tableGhash), session: dialled.session };
}

async function dialNoise(conn: Conn, target: DialTarget, identity: StreamIdentity, ctx: SessionContext, signal: AbortSignal): Promise<Established> {
  const { options } = ctx;
  const socket = conn.release();
  const pending = secureInitiator(socket, {
    localName: options.localPeer,
    staticKey: identity.staticKey,
    allowList: identity.allowList,
    peer: target.peer,
    hello: encodeHello(target.mode, target.mount, ctx.session),
    signal,
    maxMessageBytes: options.maxFrameBytes,
    highWaterMark: options.highWaterMark,
    ...(identity.psks !== undefined ? { psks: identity.psks } : {}),
    ...(identity.versions !== undefined ? { versions: identity.versions } : {}),
  });
  // release() paused the socket; the handshake's reader is listening now.
  socket.resume();
  let session: SecureSession;
  try {
    session = await pending;
  } catch (error) {
    throw toStreamError(error, target.peer);
  }
  try {
    const remote = decodeWelcome(await firstMessage(session, signal));
    return { link: new NoiseLink(session, socket), session: remote, identity: remoteIdentity(session.peer) };
  } catch (error) {
    session.destroy();
    throw toStreamError(error, target.peer);
  }
}

/** Waits for the session's first message and leaves the session paused, so no later message is read before the channel listens. */
function firstMessage(session: SecureSession, signal: AbortSignal): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      session.off('data', onData);
      session.off('error', onError);
      session.off('close', onClose);
      signal.removeEventListener('abort', onAbort);
    };
    const onData = (message: Uint8Array): void => {
      session.pause();
      cleanup();
      resolve(message);
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const onClose = (): void => {
      cleanup();
      reject(streamError('CONNECTION_LOST', "the connection closed before the listener's welcome"));
    };
    const onAbort = (): void => {
      cleanup();
      reject(streamError('OPEN_ABORTED', "aborted while waiting for the listener's welcome"));
    };
    session.on('error', onError);
    session.on('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
    session.once('data', onData);
  });
}

/**
 * Runs whichever handshake the dialler opened with. Throws a CepError with a provider code
 * (and `details.peer` when the dialler got as far as naming itself) for the listener's `onReject`.
 */
export async function acceptSession(conn: Conn, ctx: SessionContext, signal: AbortSignal, onHello: () => void): Promise<AcceptedChannel> {
  const { options } = ctx;
  const first = await firstByte(conn);
  if (first !== NOISE_FIRST_BYTE) {
    const identity = options.identity;
    const accepted = await acceptHandshake(conn, {
      localPeer: options.localPeer,
      keys: options.keys,
      session: ctx.session,
      onHello,
      ...(identity !== undefined ? { identityPeer: (peer: string) => usesIdentity(identity, peer) } : {}),
    });
    return { ...accepted, link: new GmacLink(conn, accepted.keys, accepted.peer, options.maxFrameBytes, options.tableGhash) };
  }
  onHello();
  const identity = options.identity;
  if (identity === undefined) {
    conn.socket.write(NO_NOISE_CHOICE);
    throw streamError('AUTH_FAILED', 'a dialler offered a public-key (Noise) session, but this node has no identity configured');
  }
  const socket = conn.release();
  const pending = secureResponder(socket, {
    localName: options.localPeer,
    staticKey: identity.staticKey,
    allowList: identity.allowList,
    signal,
    maxMessageBytes: options.maxFrameBytes,
    highWaterMark: options.highWaterMark,
    ...(identity.psks !== undefined ? { psks: identity.psks } : {}),
    ...(identity.versions !== undefined ? { versions: identity.versions } : {}),
  });
  socket.resume();
  let session: SecureSession;
  try {
    session = await pending;
  } catch (error) {
    throw toStreamError(error);
  }
  try {
    const hello = decodeHello(session.peer.hello);
    session.pause();
    session.write(encodeWelcome(ctx.session));
    return {
      peer: session.peer.name,
      mode: hello.mode,
      mount: hello.mount,
      session: hello.session,
      link: new NoiseLink(session, socket),
      identity: remoteIdentity(session.peer),
    };
  } catch (error) {
    session.destroy();
    throw toStreamError(error, session.peer.name);
  }
}
