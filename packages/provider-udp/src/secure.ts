/**
 * Identity channels: a Noise_XXpsk3 handshake (noise-session's datagram variant) carried in
 * resent, acknowledged chunks, then one sealed datagram per message. Used for the peers on
 * the identity's allow-list; the others keep the pre-shared-key envelope.
 */
import { randomBytes } from 'node:crypto';
import type { RemoteInfo, Socket } from 'node:dgram';
import { datagramInitiator, datagramResponder, type DatagramSession } from '@cep/noise-session';
import { CepError, type ChannelInfoV1, type OpenRequestV1 } from '@cep/provider-spec';
import { formatAddress } from './address.ts';
import { UdpChannel, type Transmit } from './channel.ts';
import { HandshakeLink, LISTENER_MAX_RESENDS, RESEND_MS } from './handshake-link.ts';
import { type RemoteIdentity, type UdpIdentity, decodeHello, encodeHello, providerCode, remoteIdentity } from './identity.ts';
import type { ResolvedUdpOptions } from './options.ts';
import { ACK, CHANNEL_ID_BYTES, CHUNK, SEALED, encodeAck, encodeChunk, encodeSealed, inner, parseSealed, type SealedParsed } from './sealed.ts';

/** What a secure channel needs from its provider. */
export interface SecureContext {
  readonly options: ResolvedUdpOptions;
  readonly identity: UdpIdentity;
  /** This provider instance's session id (hex), told in the hello and in every HELLO. */
  readonly session: string;
  /** Channel facts for a new channel. */
  info(
    peer: string,
    mode: string,
    mount: string,
    initiator: boolean,
    remoteAddress: string,
    remoteSession?: string,
    remoteIdentity?: RemoteIdentity,
  ): ChannelInfoV1;
}

function handshakeOptions(ctx: SecureContext, signal: AbortSignal) {
  const { identity, options } = ctx;
  return {
    localName: options.localPeer,
    staticKey: identity.staticKey,
    allowList: identity.allowList,
    signal,
    // The kind byte rides inside each sealed message.
    maxMessageBytes: options.maxFrameBytes + 1,
    ...(identity.psks !== undefined ? { psks: identity.psks } : {}),
    ...(identity.versions !== undefined ? { versions: identity.versions } : {}),
  };
}

/**
 * Fails `channel` when the key its session was proven with leaves the allow-list (a key
 * roll-over finished, or a peer removed): nothing more from that key is accepted. Returns the
 * unsubscribe function.
 */
function dropOnRevoke(ctx: SecureContext, session: DatagramSession, channel: () => UdpChannel): () => void {
  const proven = Buffer.from(session.peer.publicKey);
  return ctx.identity.allowList.onRevoke((revoked) => {
    if (proven.equals(revoked.publicKey)) {
      void channel().revoke(
        new CepError('AUTH_FAILED', `the key "${session.peer.name}" proved (${revoked.fingerprint}) was removed from the allow-list`, {
          peer: session.peer.name,
        }),
      );
    }
  });
}

/** Opens a sealed message for `channel`, or tells `onReject` why it is dropped. */
function openFor(session: DatagramSession, channel: UdpChannel, parsed: SealedParsed, remoteAddress: string, onReject: ResolvedUdpOptions['onReject']): void {
  let plain: Uint8Array;
  try {
    plain = session.open(parsed.body);
  } catch (error) {
    onReject({
      code: rejectCode(error),
      message: `sealed datagram from "${session.peer.name}" dropped: ${(error as Error).message}`,
      remoteAddress,
      claimedPeer: session.peer.name,
    });
    return;
  }
  if (plain.length < 1) return;
  channel.deliver(plain[0]!, Buffer.from(plain.buffer, plain.byteOffset + 1, plain.length - 1), remoteAddress);
}

/** A provider-spec code that `UdpRejectInfo` may carry. */
function rejectCode(error: unknown): 'AUTH_FAILED' | 'PEER_MISMATCH' | 'REPLAYED_FRAME' | 'PROTOCOL_ERROR' | 'HANDSHAKE_TIMEOUT' {
  const code = providerCode(error);
  return code === 'AUTH_FAILED' || code === 'PEER_MISMATCH' || code === 'REPLAYED_FRAME' || code === 'HANDSHAKE_TIMEOUT' ? code : 'PROTOCOL_ERROR';
}

/**
 * The dialling side: runs the handshake over `socket` (connected to the listener) and resolves
 * to the channel, or rejects with `AUTH_FAILED`, `PEER_MISMATCH`, `HANDSHAKE_TIMEOUT`,
 * `OPEN_ABORTED` or `PROTOCOL_ERROR`. `release` closes the socket.
 */
export async function dialSecure(
  ctx: SecureContext,
  request: OpenRequestV1,
  socket: Socket,
  release: () => Promise<void>,
  onRelease: (channel: UdpChannel) => void,
  /** Fires when the provider closes, ending a handshake still under way. */
  providerClosed: AbortSignal,
): Promise<UdpChannel> {
  const id = randomBytes(CHANNEL_ID_BYTES);
  const idHex = id.toString('hex');
  const link = new HandshakeLink({
    chunk: (seq, bytes) => socket.send(encodeChunk(id, seq, bytes)),
    ack: (seq) => socket.send(encodeAck(id, seq)),
  });
  let session: DatagramSession | undefined;
  let channel: UdpChannel | undefined;
  socket.on('message', (buf, rinfo) => {
    const parsed = parseSealed(buf);
    if (parsed === undefined || parsed.channel !== idHex) return;
    if (parsed.type === CHUNK) link.receive(parsed.seq, parsed.body);
    else if (parsed.type === ACK) link.acknowledged(parsed.seq);
    else if (parsed.type === SEALED && session !== undefined && channel !== undefined) {
      openFor(session, channel, parsed, formatAddress(rinfo.address, rinfo.port), ctx.options.onReject);
    }
  });
  const timeout = AbortSignal.timeout(ctx.options.handshakeTimeoutMs);
  const signal = AbortSignal.any(request.signal === undefined ? [timeout, providerClosed] : [timeout, providerClosed, request.signal]);
  try {
    session = await datagramInitiator(link, {
      ...handshakeOptions(ctx, signal),
      peer: request.peer,
      hello: encodeHello(request.mode, request.mount, ctx.session),
    });
  } catch (error) {
    link.dispose();
    await release();
    if (request.signal?.aborted === true) throw new CepError('OPEN_ABORTED', `opening ${request.peer} was aborted`);
    if (providerClosed.aborted) throw new CepError('OPEN_FAILED', `provider "${ctx.options.id}" closed during the handshake with "${request.peer}"`);
    const code = providerCode(error);
    const why = code === 'HANDSHAKE_TIMEOUT' ? `no answer within handshakeTimeoutMs ${ctx.options.handshakeTimeoutMs}` : (error as Error).message;
    throw new CepError(code, `the handshake with "${request.peer}" at ${request.address} failed: ${why}`, {
      peer: request.peer,
      cause: error instanceof CepError ? error.code : undefined,
    });
  }
  const sealed = session;
  const stopWatching = dropOnRevoke(ctx, sealed, () => made);
  const made: UdpChannel = new UdpChannel(
    ctx.info(request.peer, request.mode, request.mount, true, request.address, undefined, remoteIdentity(sealed.peer)),
    ctx.options,
    (type, payload) => encodeSealed(id, sealed.seal(inner(type, payload))),
    (datagram, done) => socket.send(datagram, () => done()),
    async () => {
      // The link stays until the channel goes: it acknowledges a resent last handshake chunk.
      stopWatching();
      link.dispose();
      onRelease(made);
      await release();
    },
    ctx.session,
  );
  channel = made;
  return made;
}

/** One remote channel id at a listener: its handshake, then its session and channel. */
interface Entry {
  readonly link: HandshakeLink;
  session?: DatagramSession;
  channel?: UdpChannel;
  /** The handshake failed; the entry only stays for its REJECT to be resent. */
  failed?: boolean;
  /** A newer handshake took this one's slot. */
  displaced?: boolean;
}

/** Handshakes under way: neither failed nor done. */
function pending(entry: Entry): boolean {
  return entry.session === undefined && entry.failed !== true;
}

/** The listener's side of identity channels, fed every identity datagram its socket receives. */
export interface SecureListener {
  message(buf: Buffer, rinfo: RemoteInfo): void;
  /** Closes every channel and stops every handshake. */
  close(): Promise<void>;
}

export function secureListener(
  ctx: SecureContext,
  socket: Socket,
  onReject: ResolvedUdpOptions['onReject'],
  onChannel: (channel: UdpChannel) => void,
  onRelease: (channel: UdpChannel) => void,
): SecureListener {
  const entries = new Map<string, Entry>();
  const forgetTimers = new Set<NodeJS.Timeout>();
  let closed = false;

  function start(key: string, id: Buffer, rinfo: RemoteInfo, remoteAddress: string): Entry {
    const link = new HandshakeLink(
      {
        chunk: (seq, bytes) => socket.send(encodeChunk(id, seq, bytes), rinfo.port, rinfo.address),
        ack: (seq) => socket.send(encodeAck(id, seq), rinfo.port, rinfo.address),
      },
      LISTENER_MAX_RESENDS,
    );
    const entry: Entry = { link };
    entries.set(key, entry);
    const transmit: Transmit = (datagram, done) => socket.send(datagram, rinfo.port, rinfo.address, () => done());
    datagramResponder(link, handshakeOptions(ctx, AbortSignal.timeout(ctx.options.handshakeTimeoutMs))).then(
      (session) => {
        if (entries.get(key) !== entry) return; // the listener closed meanwhile
        const hello = decodeHello(session.peer.hello);
        if (hello === undefined)
          return refuse(key, entry, 'PROTOCOL_ERROR', `"${session.peer.name}" sent a malformed channel hello`, remoteAddress, session.peer.name);
        entry.session = session;
        const stopWatching = dropOnRevoke(ctx, session, () => channel);
        const channel: UdpChannel = new UdpChannel(
          ctx.info(session.peer.name, hello.mode, hello.mount, false, remoteAddress, hello.session, remoteIdentity(session.peer)),
          ctx.options,
          (type, payload) => encodeSealed(id, session.seal(inner(type, payload))),
          transmit,
          async () => {
            stopWatching();
            if (entries.get(key) === entry) entries.delete(key);
            link.dispose();
            onRelease(channel);
          },
          ctx.session,
        );
        entry.channel = channel;
        onChannel(channel);
        // Tell the dialler which process this is.
        channel.announce();
      },
      (error: unknown) => refuse(key, entry, rejectCode(error), `handshake refused: ${(error as Error).message}`, remoteAddress),
    );
    return entry;
  }

  /** Reports a failed handshake; the entry stays a while so the REJECT is resent until acknowledged. */
  function refuse(key: string, entry: Entry, code: ReturnType<typeof rejectCode>, message: string, remoteAddress: string, claimedPeer?: string): void {
    // Handshakes the listener's own close cut short are nobody's refusal.
    if (closed) return;
    entry.failed = true;
    if (entry.displaced === true) {
      code = 'HANDSHAKE_TIMEOUT';
      message = `handshake displaced by a newer one: ${ctx.options.maxChannels} were under way`;
    }
    onReject({ code, message, remoteAddress, ...(claimedPeer !== undefined ? { claimedPeer } : {}) });
    const timer = setTimeout(
      () => {
        forgetTimers.delete(timer);
        if (entries.get(key) === entry) entries.delete(key);
        entry.link.dispose();
      },
      RESEND_MS * (LISTENER_MAX_RESENDS + 2),
    ).unref();
    forgetTimers.add(timer);
  }

  return {
    message(buf, rinfo) {
      const remoteAddress = formatAddress(rinfo.address, rinfo.port);
      const parsed = parseSealed(buf);
      if (parsed === undefined) {
        onReject({ code: 'PROTOCOL_ERROR', message: 'malformed datagram dropped', remoteAddress });
        return;
      }
      const key = `${remoteAddress}|${parsed.channel}`;
      let entry = entries.get(key);
      if (parsed.type === CHUNK) {
        if (entry === undefined) {
          const all = [...entries];
          if (all.filter(([, e]) => e.channel !== undefined).length >= ctx.options.maxChannels) {
            onReject({ code: 'CHANNEL_OVERFLOW', message: `listener already holds maxChannels ${ctx.options.maxChannels}`, remoteAddress });
            return;
          }
          // Handshakes take no channel slot: forged first datagrams (any source address will do)
          // must not lock real peers out. At the bound the oldest handshake under way gives its
          // slot to the new one; a real peer's finishes in one round trip, long before it is oldest.
          const waiting = all.filter(([, e]) => pending(e));
          if (waiting.length >= ctx.options.maxChannels) {
            const [oldKey, oldest] = waiting[0]!;
            oldest.displaced = true;
            entries.delete(oldKey);
            oldest.link.dispose();
          }
          entry = start(key, Buffer.from(parsed.channel, 'hex'), rinfo, remoteAddress);
        }
        entry.link.receive(parsed.seq, parsed.body);
      } else if (parsed.type === ACK) {
        entry?.link.acknowledged(parsed.seq);
      } else if (entry?.session !== undefined && entry.channel !== undefined) {
        openFor(entry.session, entry.channel, parsed, remoteAddress, onReject);
      } else {
        // A restarted listener, or a forged channel id: no session can open it.
        onReject({ code: 'PROTOCOL_ERROR', message: 'sealed datagram for no session here dropped', remoteAddress });
      }
    },
    async close() {
      closed = true;
      for (const timer of forgetTimers) clearTimeout(timer);
      forgetTimers.clear();
      const all = [...entries.values()];
      entries.clear();
      for (const entry of all) entry.link.dispose();
      await Promise.all(all.map((entry) => entry.channel?.close('listener closed')));
    },
  };
}
