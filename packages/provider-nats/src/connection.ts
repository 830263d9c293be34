import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, nkeyAuthenticator, type Authenticator, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { asCepError, natsError } from './errors.ts';
import type { NatsCredentials, ResolvedOptions } from './options.ts';

function readCredentialFile(path: string, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (error) {
    throw natsError('OPEN_FAILED', `cannot read the NATS ${what} file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { file: path });
  }
}

/** Maps our credentials onto the client's connection options. */
export function authOptions(credentials: NatsCredentials | undefined): Partial<NodeConnectionOptions> {
  if (credentials === undefined) return {};
  if ('token' in credentials) return { token: credentials.token };
  if ('user' in credentials) return { user: credentials.user, pass: credentials.pass };
  let authenticator: Authenticator;
  if ('credsFile' in credentials) authenticator = credsAuthenticator(readCredentialFile(credentials.credsFile, 'creds'));
  else {
    const seed = 'nkeySeed' in credentials ? credentials.nkeySeed : new TextDecoder().decode(readCredentialFile(credentials.nkeySeedFile, 'nkey seed')).trim();
    authenticator = nkeyAuthenticator(new TextEncoder().encode(seed.trim()));
  }
  return { authenticator };
}

/** A change of the NATS connection under the channels. */
export type ConnectionChange = { readonly type: 'disconnect'; readonly server: string } | { readonly type: 'reconnect'; readonly server: string };

/** The client's delay between attempts on one server, told to channels in `reconnecting` events. */
export const RECONNECT_WAIT_MS = 250;

/** One NATS connection per provider, made on first use and shared by its channels and listeners. */
export class LazyConnection {
  private pending: Promise<NatsConnection> | undefined;
  private current: NatsConnection | undefined;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly onChange: (change: ConnectionChange) => void,
  ) {}

  get(): Promise<NatsConnection> {
    this.pending ??= (async () => {
      try {
        const nc = await connect({
          servers: this.options.servers,
          name: `cep:${this.options.localPeer}`,
          // Reconnect forever: channels ride out a server restart; their own peer timeout decides when to give up.
          maxReconnectAttempts: -1,
          reconnectTimeWait: RECONNECT_WAIT_MS,
          ...authOptions(this.options.credentials),
        });
        this.current = nc;
        void this.watch(nc);
        return nc;
      } catch (error) {
        this.pending = undefined;
        throw asCepError(error, 'OPEN_FAILED', `could not connect to NATS at ${this.options.servers.join(', ')}`);
      }
    })();
    return this.pending;
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect' || status.type === 'reconnect') this.onChange({ type: status.type, server: status.server });
    }
  }

  /** The server's largest message, once connected. */
  maxPayload(): number {
    return this.current?.info?.max_payload ?? 1 << 20;
  }

  async close(): Promise<void> {
    const pending = this.pending;
    this.pending = undefined;
    if (pending === undefined) return;
    const nc = await pending.catch(() => undefined);
    if (nc !== undefined && !nc.isClosed()) {
      await nc.drain().catch(() => nc.close());
      await nc.closed();
    }
    this.current = undefined;
  }
}
