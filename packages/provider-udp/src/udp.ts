import { randomBytes } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { CepError, PROVIDER_SPEC_V1, type ChannelV1, type ListenOptionsV1, type ListenerV1, type OpenRequestV1, type ProviderV1 } from '@cep/provider-spec';
import { formatAddress, parseAddress } from './address.ts';
import { UdpChannel, keyedSeal, sessionOf } from './channel.ts';
import { DATA, HELLO, type Parsed, authentic, overhead, parse } from './datagram.ts';
import { usesIdentity, type RemoteIdentity } from './identity.ts';
import { type ResolvedUdpOptions, type UdpOptions, checkName, resolveUdpOptions } from './options.ts';
import { dialSecure, secureListener, type SecureContext, type SecureListener } from './secure.ts';
import { isSealed } from './sealed.ts';

/** Capabilities every UDP provider advertises. */
export const UDP_CAPS = ['unreliable', 'datagram', 'low_latency', 'remote_net', 'crc32c', 'deflate', 'aead'] as const;

function closeSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

function remote(rinfo: RemoteInfo): string {
  return formatAddress(rinfo.address, rinfo.port);
}

/** Authenticates an envelope against the key of the peer it claims to come from. */
function check(options: ResolvedUdpOptions, buf: Buffer, rinfo: RemoteInfo): Parsed | undefined {
  const parsed = parse(buf);
  const remoteAddress = remote(rinfo);
  if (parsed === undefined) {
    options.onReject({ code: 'PROTOCOL_ERROR', message: 'malformed datagram dropped', remoteAddress });
    return undefined;
  }
  if (parsed.target !== options.localPeer) {
    options.onReject({ code: 'PEER_MISMATCH', message: `datagram for "${parsed.target}" dropped`, remoteAddress, claimedPeer: parsed.sender });
    return undefined;
  }
  const key = options.keys.get(parsed.sender);
  if (key === undefined || !authentic(key, parsed)) {
    options.onReject({ code: 'AUTH_FAILED', message: `datagram claiming "${parsed.sender}" failed authentication`, remoteAddress, claimedPeer: parsed.sender });
    return undefined;
  }
  if (parsed.payload.length > options.maxFrameBytes) {
    options.onReject({ code: 'PROTOCOL_ERROR', message: `datagram of ${parsed.payload.length} bytes exceeds maxFrameBytes`, remoteAddress });
    return undefined;
  }
  return parsed;
}

/**
 * A CEP transport provider over UDP for `upd_latest` gauges: unreliable, unordered,
 * one datagram per frame. Every datagram is authenticated and checked against a replay
 * window; anything else is dropped. Peers in `keys` use an HMAC envelope under the pair's
 * pre-shared key; peers on `identity.allowList` get a Noise handshake at `open`, then every
 * datagram is encrypted under that session.
 *
 * @example
 * const earth = udp({ localPeer: 'earth', keys: { saturn: key } });
 * const gauges = await earth.open({ peer: 'saturn', mode: 'mirror', mount: 'gauges', localNode: 'earth', address: '127.0.0.1:7001' });
 * gauges.send(frame); // a frame above maxFrameBytes throws FRAME_TOO_LARGE
 */
export function udp(input: UdpOptions): ProviderV1 {
  const options = resolveUdpOptions(input);
  const channels = new Set<UdpChannel>();
  const listeners = new Set<ListenerV1>();
  let closed = false;
  // Ends identity handshakes still under way when the provider closes.
  const closing = new AbortController();
  // This provider instance's session (a process start): told in every HELLO, so a peer can tell a restart.
  const session = randomBytes(16).toString('hex');

  function info(peer: string, mode: string, mount: string, initiator: boolean, remoteAddress: string, remoteSession?: string, remoteIdentity?: RemoteIdentity) {
    return {
      provider: options.id,
      peer,
      mode,
      mount,
      initiator,
      remoteAddress,
      maxFrameBytes: options.maxFrameBytes,
      ...(remoteSession !== undefined ? { remoteSession } : {}),
      ...(remoteIdentity !== undefined ? { remoteIdentity } : {}),
    };
  }
  const secureContext = (opts: ResolvedUdpOptions): SecureContext | undefined =>
    opts.identity === undefined ? undefined : { options: opts, identity: opts.identity, session, info };

  return {
    specificationVersion: PROVIDER_SPEC_V1,
    id: options.id,
    caps: Object.freeze([...UDP_CAPS]),

    async open(request: OpenRequestV1): Promise<ChannelV1> {
      if (closed) throw new CepError('OPEN_FAILED', `provider "${options.id}" is closed`);
      checkName('peer', request.peer);
      checkName('mode', request.mode);
      checkName('mount', request.mount);
      const secure = usesIdentity(options.identity, request.peer) ? secureContext(options) : undefined;
      const key = options.keys.get(request.peer);
      if (secure === undefined && key === undefined) {
        throw new CepError('AUTH_FAILED', `no key or public key is configured for peer "${request.peer}"; add it to keys or identity.allowList`, {
          peer: request.peer,
        });
      }
      const target = parseAddress(request.address, false);
      if (request.signal?.aborted) throw new CepError('OPEN_ABORTED', `opening ${request.peer} was aborted`);
      const socket = createSocket(target.family);
      try {
        await new Promise<void>((resolve, reject) => {
          socket.once('error', reject);
          socket.connect(target.port, target.host, () => {
            socket.removeListener('error', reject);
            resolve();
          });
        });
      } catch (error) {
        await closeSocket(socket);
        throw new CepError('OPEN_FAILED', `could not reach ${request.address}: ${(error as Error).message}`, { address: request.address });
      }
      if (secure !== undefined) {
        let dialled: UdpChannel | undefined;
        // ICMP "port unreachable" (ECONNREFUSED) is ridden out, as below; the handshake resends.
        socket.on('error', (error: NodeJS.ErrnoException) => {
          if (error.code !== 'ECONNREFUSED') dialled?.fail(new CepError('CONNECTION_LOST', `udp socket failed: ${error.message}`));
        });
        let gone: Promise<void> | undefined;
        dialled = await dialSecure(
          secure,
          request,
          socket,
          () => (gone ??= closeSocket(socket)),
          (ch) => channels.delete(ch),
          closing.signal,
        );
        channels.add(dialled);
        return dialled;
      }
      const route = { sender: options.localPeer, target: request.peer, mode: request.mode, mount: request.mount };
      if (overhead(route) + options.maxFrameBytes > 65_507) {
        await closeSocket(socket);
        throw new CepError('FRAME_TOO_LARGE', "maxFrameBytes plus this mount's names do not fit one datagram; lower maxFrameBytes");
      }
      let released: Promise<void> | undefined;
      const channel: UdpChannel = new UdpChannel(
        info(request.peer, request.mode, request.mount, true, request.address),
        options,
        keyedSeal(key!, route),
        (datagram, done) => socket.send(datagram, () => done()),
        (): Promise<void> => {
          released ??= (channels.delete(channel), closeSocket(socket));
          return released;
        },
        session,
      );
      socket.on('message', (buf, rinfo) => {
        const parsed = check(options, buf, rinfo);
        if (parsed === undefined) return;
        if (parsed.sender !== request.peer || parsed.mode !== request.mode || parsed.mount !== request.mount) return;
        channel.deliver(parsed.type, parsed.payload, remote(rinfo), parsed.seq);
      });
      // ICMP "port unreachable" shows up as ECONNREFUSED on a connected socket: the far
      // side is not listening right now, which an unreliable channel rides out.
      socket.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code !== 'ECONNREFUSED') channel.fail(new CepError('CONNECTION_LOST', `udp socket failed: ${error.message}`));
      });
      channels.add(channel);
      // Announce the channel so the listener hands it to its manager before the first gauge.
      channel.announce();
      return channel;
    },

    async listen(listenOptions: ListenOptionsV1, onChannel: (channel: ChannelV1) => void): Promise<ListenerV1> {
      if (closed) throw new CepError('OPEN_FAILED', `provider "${options.id}" is closed`);
      const local = parseAddress(listenOptions.address, true);
      const socket = createSocket(local.family);
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(local.port, local.host, () => {
          socket.removeListener('error', reject);
          resolve();
        });
      }).catch(async (error: Error) => {
        await closeSocket(socket);
        throw new CepError('OPEN_FAILED', `could not bind ${listenOptions.address}: ${error.message}`, { address: listenOptions.address });
      });
      // Refusals go to the provider's own onReject and to this listener's (the manager's).
      const here: ResolvedUdpOptions = {
        ...options,
        onReject: (info) => {
          options.onReject(info);
          listenOptions.onReject?.({
            code: info.code,
            reason: info.message,
            ...(info.claimedPeer !== undefined ? { claimedPeer: info.claimedPeer } : {}),
            ...(info.remoteAddress !== undefined ? { remoteAddress: info.remoteAddress } : {}),
          });
        },
      };
      const accepted = new Map<string, UdpChannel>();
      socket.on('error', () => {
        // Per-datagram send errors (an unreachable peer) are not the listener's failure.
      });
      const secure = secureContext(here);
      const sealed: SecureListener | undefined =
        secure === undefined
          ? undefined
          : secureListener(
              secure,
              socket,
              here.onReject,
              (channel) => {
                channels.add(channel);
                onChannel(channel);
              },
              (channel) => channels.delete(channel),
            );
      socket.on('message', (buf, rinfo) => {
        if (isSealed(buf)) {
          if (sealed !== undefined) sealed.message(buf, rinfo);
          else here.onReject({ code: 'PROTOCOL_ERROR', message: 'identity datagram dropped: this listener has no identity', remoteAddress: remote(rinfo) });
          return;
        }
        const parsed = check(here, buf, rinfo);
        if (parsed === undefined) return;
        const remoteAddress = remote(rinfo);
        const id = `${remoteAddress}|${parsed.sender}|${parsed.mode}|${parsed.mount}`;
        let channel = accepted.get(id);
        if (channel === undefined) {
          if (parsed.type !== HELLO && parsed.type !== DATA) return;
          if (accepted.size >= options.maxChannels) {
            here.onReject({ code: 'CHANNEL_OVERFLOW', message: `listener already holds maxChannels ${options.maxChannels}`, remoteAddress });
            return;
          }
          const created: UdpChannel = new UdpChannel(
            info(parsed.sender, parsed.mode, parsed.mount, false, remoteAddress, parsed.type === HELLO ? sessionOf(parsed.payload) : undefined),
            here,
            keyedSeal(options.keys.get(parsed.sender)!, { sender: options.localPeer, target: parsed.sender, mode: parsed.mode, mount: parsed.mount }),
            (datagram, done) => socket.send(datagram, rinfo.port, rinfo.address, () => done()),
            async () => {
              accepted.delete(id);
              channels.delete(created);
            },
            session,
          );
          channel = created;
          accepted.set(id, channel);
          channels.add(channel);
          channel.deliver(parsed.type, parsed.payload, remoteAddress, parsed.seq);
          onChannel(channel);
          // Tell the dialler which process this is (after a restart: a new session).
          channel.announce();
          return;
        }
        channel.deliver(parsed.type, parsed.payload, remoteAddress, parsed.seq);
      });
      const bound = socket.address();
      let closing: Promise<void> | undefined;
      const listener: ListenerV1 = {
        address: formatAddress(bound.address, bound.port),
        close() {
          closing ??= (async () => {
            listeners.delete(listener);
            await Promise.all([...accepted.values()].map((channel) => channel.close('listener closed')));
            await sealed?.close();
            await closeSocket(socket);
          })();
          return closing;
        },
      };
      listeners.add(listener);
      return listener;
    },

    async close(): Promise<void> {
      closed = true;
      closing.abort();
      await Promise.all([...channels].map((channel) => channel.close(`provider "${options.id}" closed`)));
      await Promise.all([...listeners].map((listener) => listener.close()));
    },
  };
}
