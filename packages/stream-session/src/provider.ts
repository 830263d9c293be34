import { randomBytes } from 'node:crypto';
import { createServer, connect, type NetConnectOpts, type Server } from 'node:net';
import {
  PROVIDER_SPEC_V1,
  type Capability,
  type ChannelV1,
  type ListenOptionsV1,
  type ListenerV1,
  type OpenRequestV1,
  type ProviderV1,
} from '@cep/provider-spec';
import { type Established, StreamChannel } from './channel.ts';
import { Conn } from './conn.ts';
import { asCepError, streamError } from './errors.ts';
import { HandshakeSlots, sourceOf, type Slot } from './admission.ts';
import { SESSION_BYTES, withDeadline } from './handshake.ts';
import { usesIdentity } from './identity.ts';
import { acceptSession, dialSession, type SessionContext } from './sessions.ts';
import { type StreamOptions, checkName, resolveOptions, type RejectInfo } from './options.ts';

/** How a concrete stream transport (TCP, Unix socket) turns addresses into sockets. */
export interface StreamEndpoint {
  /** Validates `address` and returns the `net.connect` options that reach it; throws `ADDRESS_INVALID`. */
  connectOptions(address: string): NetConnectOpts;
  /** Binds `server` at `address` and returns the bound address in the provider's syntax. */
  bind(server: Server, address: string): Promise<string>;
  /** Releases what a bound address leaves behind (a socket file), after the server closed. */
  release?(bound: string): Promise<void>;
}

/** An inbound connection holding a handshake slot. */
interface Pending extends Slot {
  readonly conn: Conn;
}

/** What `createStreamProvider` needs from a concrete provider package. */
export interface StreamProviderSpec {
  readonly defaultId: string;
  readonly caps: readonly Capability[];
  readonly endpoint: StreamEndpoint;
  readonly options: StreamOptions;
}

/**
 * Builds a v1 provider on stream sockets: every `open` dials one connection, runs the
 * mutual handshake, and returns one authenticated channel; `listen` accepts the same.
 * Dialled channels reconnect with bounded backoff; accepted ones end when their
 * connection does (the dialler comes back as a new accepted channel).
 */
export function createStreamProvider(spec: StreamProviderSpec): ProviderV1 {
  const options = resolveOptions(spec.defaultId, spec.options);
  checkName('id', options.id);
  const { endpoint } = spec;
  const channels = new Set<StreamChannel>();
  const handshaking = new Set<Conn>();
  const listeners = new Set<ListenerV1>();
  let closed = false;
  // This provider's session: new at every start, so a peer can tell a restart from a reconnect.
  const session = randomBytes(SESSION_BYTES);

  function dial(address: string, signal: AbortSignal | undefined): Promise<Conn> {
    const target = endpoint.connectOptions(address);
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(streamError('OPEN_ABORTED', `dialling ${address} was aborted`));
        return;
      }
      // net.Socket honours writableHighWaterMark though NetConnectOpts does not declare it.
      const socket = connect({ ...target, writableHighWaterMark: options.highWaterMark } as unknown as NetConnectOpts);
      const onAbort = (): void => {
        socket.destroy();
        reject(streamError('OPEN_ABORTED', `dialling ${address} was aborted`));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        signal?.removeEventListener('abort', onAbort);
        socket.destroy();
        reject(streamError('OPEN_FAILED', `could not connect to ${address}: ${error.message}`, { address, errno: error.code }));
      });
      socket.once('connect', () => {
        signal?.removeEventListener('abort', onAbort);
        socket.removeAllListeners('error');
        resolve(new Conn(socket));
      });
    });
  }

  const ctx: SessionContext = { options, session };

  async function establish(request: OpenRequestV1, signal: AbortSignal | undefined): Promise<Established> {
    const conn = await dial(request.address, signal);
    handshaking.add(conn);
    // Stops a Noise handshake still running when the deadline or the caller gives up.
    const stop = new AbortController();
    const onAbort = (): void => {
      stop.abort();
      conn.destroy();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const established = await withDeadline(conn, options.handshakeTimeoutMs, dialSession(conn, request, ctx, stop.signal));
      if (closed) {
        established.link.destroy();
        throw streamError('OPEN_ABORTED', `provider "${options.id}" closed during the handshake`);
      }
      return established;
    } catch (error) {
      stop.abort();
      conn.destroy();
      if (signal?.aborted) throw streamError('OPEN_ABORTED', `opening ${request.peer} was aborted`);
      throw asCepError(error, 'OPEN_FAILED', `handshake with "${request.peer}" failed`);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      handshaking.delete(conn);
    }
  }

  const provider: ProviderV1 = {
    specificationVersion: PROVIDER_SPEC_V1,
    id: options.id,
    caps: Object.freeze([...spec.caps]),

    async open(request: OpenRequestV1): Promise<ChannelV1> {
      if (closed) throw streamError('OPEN_FAILED', `provider "${options.id}" is closed`);
      checkName('peer', request.peer);
      checkName('mode', request.mode);
      checkName('mount', request.mount);
      if (!options.keys.has(request.peer) && !usesIdentity(options.identity, request.peer)) {
        throw streamError('AUTH_FAILED', `no key or public key is configured for peer "${request.peer}"; add it to the provider's keys or identity.allowList`, {
          peer: request.peer,
        });
      }
      const { link, session: remoteSession, identity } = await establish(request, request.signal);
      const channel = new StreamChannel(
        {
          provider: options.id,
          peer: request.peer,
          mode: request.mode,
          mount: request.mount,
          initiator: true,
          remoteAddress: request.address,
          maxFrameBytes: options.maxFrameBytes,
          remoteSession,
          ...(identity !== undefined ? { remoteIdentity: identity } : {}),
        },
        options,
        (signal) => establish(request, signal),
        (ch) => channels.delete(ch),
      );
      channels.add(channel);
      channel.attach(link, identity);
      return channel;
    },

    async listen(listenOptions: ListenOptionsV1, onChannel: (channel: ChannelV1) => void): Promise<ListenerV1> {
      if (closed) throw streamError('OPEN_FAILED', `provider "${options.id}" is closed`);
      const server = createServer({ highWaterMark: options.highWaterMark });
      const mine = new Set<Conn>();
      const listenLog = options.logger.child({ provider: options.id, listen: listenOptions.address });
      // A refusal is told to the provider's own onReject and to this listener's (the manager's).
      const reject = (info: RejectInfo): void => {
        options.onReject(info);
        listenLog.info({ code: info.code, reason: info.message, remoteAddress: info.remoteAddress, claimedPeer: info.claimedPeer }, 'refused a connection');
        listenOptions.onReject?.({
          code: info.code,
          reason: info.message,
          ...(info.claimedPeer !== undefined ? { claimedPeer: info.claimedPeer } : {}),
          ...(info.remoteAddress !== undefined ? { remoteAddress: info.remoteAddress } : {}),
        });
      };
      const slots = new HandshakeSlots<Pending>(options.maxPendingHandshakes, options.maxPendingPerSource);
      // One turn per event-loop turn that admitted connections, counted after its I/O (see admission.ts).
      let turnScheduled = false;
      const endTurn = (): void => {
        turnScheduled = false;
        slots.nextTurn();
      };
      server.on('connection', (socket) => {
        const remoteAddress = socket.remoteAddress;
        if (closed) {
          socket.destroy();
          return;
        }
        const conn = new Conn(socket);
        const pending: Pending = { source: sourceOf(remoteAddress), spoke: false, conn };
        if (!turnScheduled) {
          turnScheduled = true;
          setImmediate(endTurn);
        }
        for (const victim of slots.admit(pending)) {
          // Dropped at once, without a REJECT: nothing is owed to an unauthenticated connection.
          const where = victim.conn.remoteAddress;
          mine.delete(victim.conn);
          handshaking.delete(victim.conn);
          victim.conn.destroy();
          reject({
            code: 'HANDSHAKE_EVICTED',
            message:
              victim !== pending
                ? `dropped mid-handshake (${victim.spoke ? 'stalled after HELLO' : 'silent'}) to make room for a newer connection`
                : options.maxPendingHandshakes === 0
                  ? 'the listener takes no inbound connections (maxPendingHandshakes 0)'
                  : 'refused: every handshake slot is held by a connection too new to displace',
            ...(where !== undefined ? { remoteAddress: where } : {}),
          });
        }
        if (conn.gone || socket.destroyed) return;
        mine.add(conn);
        handshaking.add(conn);
        const onHello = (): void => {
          pending.spoke = true;
        };
        const stop = new AbortController();
        withDeadline(conn, options.acceptTimeoutMs, acceptSession(conn, ctx, stop.signal, onHello)).then(
          (accepted) => {
            slots.release(pending);
            mine.delete(conn);
            handshaking.delete(conn);
            if (closed || accepted.link.gone) {
              accepted.link.destroy();
              return;
            }
            const channel = new StreamChannel(
              {
                provider: options.id,
                peer: accepted.peer,
                mode: accepted.mode,
                mount: accepted.mount,
                initiator: false,
                remoteAddress: conn.remoteAddress ?? listenOptions.address,
                maxFrameBytes: options.maxFrameBytes,
                ...(accepted.session !== undefined ? { remoteSession: accepted.session } : {}),
                ...(accepted.identity !== undefined ? { remoteIdentity: accepted.identity } : {}),
              },
              options,
              undefined,
              (ch) => channels.delete(ch),
            );
            channels.add(channel);
            channel.attach(accepted.link, accepted.identity);
            onChannel(channel);
          },
          (error: unknown) => {
            stop.abort();
            const wasEvicted = !mine.has(conn);
            slots.release(pending);
            mine.delete(conn);
            handshaking.delete(conn);
            // An evicted connection was reported when it was dropped.
            if (wasEvicted) return;
            // Let a REJECT already written leave, then drop the socket.
            if (conn.gone) conn.destroy();
            else conn.socket.end(() => conn.destroy());
            const e = asCepError(error, 'PROTOCOL_ERROR', 'inbound handshake failed');
            const peer = e.details['peer'];
            reject({
              code: e.code,
              message: e.message,
              ...(conn.remoteAddress !== undefined ? { remoteAddress: conn.remoteAddress } : {}),
              ...(typeof peer === 'string' ? { claimedPeer: peer } : {}),
            });
          },
        );
      });
      const bound = await endpoint.bind(server, listenOptions.address);
      let closing: Promise<void> | undefined;
      const listener: ListenerV1 = {
        address: bound,
        close() {
          closing ??= (async () => {
            listeners.delete(listener);
            const closedEvent = new Promise<void>((resolve) => server.once('close', () => resolve()));
            server.close();
            for (const conn of mine) conn.destroy();
            // The 'close' event waits for every accepted socket; accepted channels belong to
            // the provider and may outlive the listener, so wait for it only when none is left.
            const open = await new Promise<number>((resolve) => server.getConnections((_, count) => resolve(count)));
            if (open === 0) await closedEvent;
            await endpoint.release?.(bound);
          })();
          return closing;
        },
      };
      listeners.add(listener);
      return listener;
    },

    async close(): Promise<void> {
      closed = true;
      await Promise.all([...channels].map((channel) => channel.close(`provider "${options.id}" closed`)));
      for (const conn of handshaking) conn.destroy();
      await Promise.all([...listeners].map((listener) => listener.close()));
    },
  };
  return provider;
}
