import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { PROVIDER_SPEC_V1, type ChannelV1, type ListenOptionsV1, type ListenerV1, type OpenRequestV1, type ProviderV1 } from '@cep/provider-spec';
import { NatsChannel } from './channel.ts';
import { mailbox } from './mailbox.ts';
import { LazyConnection } from './connection.ts';
import { asCepError, natsError } from './errors.ts';
import {
  INSTANCE_BYTES,
  SESSION_BYTES,
  challengeHandshake,
  dialHandshake,
  proofSession,
  readHello,
  rejectMessage,
  type ListenerHandshake,
  type Hello,
} from './handshake.ts';
import { checkName, resolveOptions, type NatsOptions, type NatsRejectInfo, type ResolvedOptions } from './options.ts';
import { channelSubjects, helloSubject, parsePrefix } from './subjects.ts';
import { randomNonce } from './crypto.ts';

/** Capabilities with `delivery: 'acked'` (the default): the provider's acks make channels reliable and ordered. */
export const NATS_ACKED_CAPS = ['reliable', 'ordered', 'multicast', 'remote_net', 'crc32c', 'deflate', 'aead'] as const;
/** Capabilities with `delivery: 'at_most_once'`: core NATS as is, fit for `upd_latest` gauges. */
export const NATS_AT_MOST_ONCE_CAPS = ['unreliable', 'datagram', 'multicast', 'remote_net', 'crc32c', 'deflate', 'aead'] as const;

function abortError(what: string): Error {
  return natsError('OPEN_ABORTED', `${what} was aborted`);
}

/** Runs `work`, failing with OPEN_ABORTED when `signal` fires first. */
function abortable<T>(signal: AbortSignal | undefined, what: string, work: Promise<T>): Promise<T> {
  if (signal === undefined) return work;
  if (signal.aborted) return Promise.reject(abortError(what));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError(what));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

interface PendingHandshake {
  readonly hello: Hello;
  readonly state: ListenerHandshake;
  readonly timer: NodeJS.Timeout;
}

/**
 * A CEP transport provider over NATS. An address is a subject prefix (`cep.saturn`):
 * a listener takes handshakes on `<prefix>.hello` by request/reply, and each channel
 * then uses two subjects, `<prefix>.ch.<mode>.<mount>.<session>.{l,d}`, one per direction.
 * The pre-shared-key handshake and a tag on every record run end to end between the
 * peers, so the NATS server and anyone allowed to publish on the subjects can drop
 * messages but cannot inject, alter or replay frames.
 *
 * @example
 * const saturn = nats({ localPeer: 'saturn', keys: { earth: key }, servers: 'nats://10.0.0.5:4222' });
 * await saturn.listen({ address: 'cep.saturn' }, (channel) => manager.accept(channel));
 * const earth = nats({ localPeer: 'earth', keys: { saturn: key }, servers: 'nats://10.0.0.5:4222' });
 * const channel = await earth.open({ peer: 'saturn', mode: 'link', mount: 'main', localNode: 'earth', address: 'cep.saturn' });
 */
export function nats(natsOptions: NatsOptions): ProviderV1 {
  const options: ResolvedOptions = resolveOptions(natsOptions);
  const channels = new Set<NatsChannel>();
  const connection = new LazyConnection(options, (change) => {
    for (const channel of channels) channel.connectionChanged(change);
  });
  const listeners = new Set<ListenerV1>();
  let closed = false;
  // Random per provider, so per process start: remote peers report it as `remoteSession`.
  const instance = randomNonce().subarray(0, INSTANCE_BYTES);

  function makeChannel(
    nc: NatsConnection,
    args: Omit<ConstructorParameters<typeof NatsChannel>[0], 'options' | 'nc' | 'maxPayload' | 'onFinished'>,
  ): NatsChannel {
    const channel = new NatsChannel({ ...args, options, nc, maxPayload: connection.maxPayload(), onFinished: (ch) => channels.delete(ch) });
    channels.add(channel);
    return channel;
  }

  async function dial(request: OpenRequestV1, key: Uint8Array): Promise<ChannelV1> {
    const prefix = parsePrefix(request.address);
    const nc = await connection.get();
    const handshake = dialHandshake({ localPeer: options.localPeer, peer: request.peer, mode: request.mode, mount: request.mount, key, instance });
    const subjects = channelSubjects(prefix, request.mode, request.mount, handshake.session);
    // Subscribed before HELLO leaves, so nothing the listener sends after ACCEPT can be missed.
    const inbox = mailbox(nc, subjects.toDialer);
    try {
      const deadline = Date.now() + options.handshakeTimeoutMs;
      const left = (): number => Math.max(1, deadline - Date.now());
      let challenge: Msg;
      try {
        challenge = await nc.request(helloSubject(prefix), handshake.hello, { timeout: left() });
      } catch (error) {
        throw asCepError(error, 'OPEN_FAILED', `no listener answered on ${helloSubject(prefix)} (is ${request.peer} listening at ${prefix}?)`);
      }
      const proof = handshake.answer(challenge.data);
      if (challenge.reply === undefined) throw natsError('PROTOCOL_ERROR', 'the listener did not say where to send the proof');
      let accept: Msg;
      try {
        accept = await nc.request(challenge.reply, proof, { timeout: left() });
      } catch (error) {
        throw asCepError(error, 'HANDSHAKE_TIMEOUT', `the handshake with ${request.peer} did not finish`);
      }
      const keys = handshake.finish(accept.data);
      if (closed) throw natsError('OPEN_ABORTED', `provider "${options.id}" closed during the handshake`);
      return makeChannel(nc, {
        info: {
          provider: options.id,
          peer: request.peer,
          mode: request.mode,
          mount: request.mount,
          initiator: true,
          remoteAddress: `${prefix} via ${nc.getServer()}`,
          maxFrameBytes: options.maxFrameBytes,
          sessionId: handshake.session,
          groupScope: prefix,
          ...(handshake.remoteInstance !== undefined ? { remoteSession: handshake.remoteInstance } : {}),
        },
        keys,
        sendSubject: subjects.toListener,
        inbox,
        prefix,
      });
    } catch (error) {
      inbox.subscription.unsubscribe();
      throw error;
    }
  }

  const provider: ProviderV1 = {
    specificationVersion: PROVIDER_SPEC_V1,
    id: options.id,
    caps: Object.freeze([...(options.delivery === 'acked' ? NATS_ACKED_CAPS : NATS_AT_MOST_ONCE_CAPS)]),

    async open(request: OpenRequestV1): Promise<ChannelV1> {
      if (closed) throw natsError('OPEN_FAILED', `provider "${options.id}" is closed`);
      if (request.signal?.aborted) throw abortError(`opening ${request.peer}`);
      checkName('peer', request.peer);
      checkName('mode', request.mode);
      checkName('mount', request.mount);
      parsePrefix(request.address);
      const key = options.keys.get(request.peer);
      if (key === undefined) {
        throw natsError('AUTH_FAILED', `no key is configured for peer "${request.peer}"; add it to the provider's keys`, { peer: request.peer });
      }
      const work = dial(request, key);
      if (request.signal !== undefined) {
        // A channel that still opens after the abort is closed at once.
        work.then(
          (channel) => {
            if (request.signal!.aborted) void channel.close('open aborted');
          },
          () => undefined,
        );
      }
      return abortable(request.signal, `opening ${request.peer}`, work);
    },

    async listen(listenOptions: ListenOptionsV1, onChannel: (channel: ChannelV1) => void): Promise<ListenerV1> {
      if (closed) throw natsError('OPEN_FAILED', `provider "${options.id}" is closed`);
      const prefix = parsePrefix(listenOptions.address);
      const nc = await connection.get();
      // One listener per prefix: a second one would split handshakes between two peers.
      const taken = await nc.request(helloSubject(prefix), new Uint8Array(0), { timeout: 250 }).then(
        () => true,
        () => false,
      );
      if (taken)
        throw natsError('ADDRESS_IN_USE', `another listener already answers on ${helloSubject(prefix)}; give each peer its own prefix`, { address: prefix });
      const pending = new Map<string, PendingHandshake>();
      const proofSubject = `${prefix}.hs.${randomNonce().subarray(0, SESSION_BYTES).toString('hex')}`;
      const reject = (info: NatsRejectInfo): void => {
        options.onReject(info);
        listenOptions.onReject?.({
          code: info.code,
          reason: info.message,
          ...(info.claimedPeer !== undefined ? { claimedPeer: info.claimedPeer } : {}),
          ...(info.subject !== undefined ? { remoteAddress: info.subject } : {}),
        });
      };
      const refuse = (msg: Msg, code: 'AUTH_FAILED' | 'PEER_MISMATCH' | 'PROTOCOL_ERROR', message: string, claimedPeer?: string): void => {
        msg.respond(rejectMessage(code));
        reject({ code, message, subject: msg.subject, ...(claimedPeer !== undefined ? { claimedPeer } : {}) });
      };

      const onHello = (msg: Msg): void => {
        if (closed) return;
        // An empty request is another listener asking whether this prefix is taken.
        if (msg.data.length === 0) {
          msg.respond(new Uint8Array(0));
          return;
        }
        let hello: Hello;
        try {
          hello = readHello(msg.data);
        } catch (error) {
          refuse(msg, 'PROTOCOL_ERROR', asCepError(error, 'PROTOCOL_ERROR', 'bad hello').message);
          return;
        }
        if (hello.target !== options.localPeer) {
          refuse(msg, 'PEER_MISMATCH', `a dialer asked for peer "${hello.target}" but this node is "${options.localPeer}"`, hello.peer);
          return;
        }
        const key = options.keys.get(hello.peer);
        if (key === undefined) {
          refuse(msg, 'AUTH_FAILED', `no key is configured for peer "${hello.peer}"; add one to keys to accept it`, hello.peer);
          return;
        }
        if (pending.size >= options.maxPendingHandshakes || pending.has(hello.session)) {
          refuse(
            msg,
            'PROTOCOL_ERROR',
            pending.size >= options.maxPendingHandshakes ? 'too many handshakes in progress' : 'a handshake with this session id is already in progress',
            hello.peer,
          );
          return;
        }
        const state = challengeHandshake(hello, key, instance);
        const timer = setTimeout(() => {
          pending.delete(hello.session);
          reject({
            code: 'HANDSHAKE_TIMEOUT',
            message: `peer "${hello.peer}" did not finish the handshake within ${options.handshakeTimeoutMs} ms`,
            claimedPeer: hello.peer,
          });
        }, options.handshakeTimeoutMs);
        timer.unref();
        pending.set(hello.session, { hello, state, timer });
        msg.respond(state.challenge, { reply: proofSubject });
      };

      const onProof = (msg: Msg): void => {
        if (closed) return;
        const session = proofSession(msg.data);
        const entry = session === undefined ? undefined : pending.get(session);
        if (entry === undefined) {
          refuse(msg, 'PROTOCOL_ERROR', 'a proof for no handshake in progress');
          return;
        }
        pending.delete(entry.hello.session);
        clearTimeout(entry.timer);
        let result: ReturnType<ListenerHandshake['verify']>;
        try {
          result = entry.state.verify(msg.data);
        } catch (error) {
          refuse(msg, 'AUTH_FAILED', asCepError(error, 'AUTH_FAILED', 'bad proof').message, entry.hello.peer);
          return;
        }
        const { hello } = entry;
        const subjects = channelSubjects(prefix, hello.mode, hello.mount, hello.session);
        // Subscribed before ACCEPT leaves (the server sees SUB before the reply), so the
        // dialer's first record finds the subscription.
        const channel = makeChannel(nc, {
          info: {
            provider: options.id,
            peer: hello.peer,
            mode: hello.mode,
            mount: hello.mount,
            initiator: false,
            remoteAddress: `${prefix} via ${nc.getServer()}`,
            maxFrameBytes: options.maxFrameBytes,
            sessionId: hello.session,
            remoteSession: hello.instance,
            groupScope: prefix,
          },
          keys: result.keys,
          sendSubject: subjects.toDialer,
          prefix,
          inbox: mailbox(nc, subjects.toListener),
        });
        msg.respond(result.accept);
        onChannel(channel);
      };

      const subscriptions: Subscription[] = [
        nc.subscribe(helloSubject(prefix), {
          callback: (error, msg) => {
            if (error === null) onHello(msg);
          },
        }),
        nc.subscribe(proofSubject, {
          callback: (error, msg) => {
            if (error === null) onProof(msg);
          },
        }),
      ];
      await nc.flush();
      let closing: Promise<void> | undefined;
      const listener: ListenerV1 = {
        address: prefix,
        close() {
          closing ??= (async () => {
            listeners.delete(listener);
            for (const sub of subscriptions) sub.unsubscribe();
            for (const entry of pending.values()) clearTimeout(entry.timer);
            pending.clear();
            if (!nc.isClosed()) await nc.flush().catch(() => undefined);
          })();
          return closing;
        },
      };
      listeners.add(listener);
      return listener;
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await Promise.all([...channels].map((channel) => channel.close(`provider "${options.id}" closed`)));
      await Promise.all([...listeners].map((listener) => listener.close()));
      await connection.close();
    },
  };
  return provider;
}
