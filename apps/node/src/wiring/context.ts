import type { Logger } from 'pino';
import type { PeerConfig } from '../config/schema.ts';
import type { LoadedHandler } from '../handlers.ts';
import type { Runtime } from '@cep/heartbeat';
import type { ProviderV1 } from '@cep/transport/provider';
import type { ShutdownHook } from '../shutdown.ts';

/** What the wiring functions get: everything a started peer has, before its beat timer runs. */
export interface PeerContext {
  readonly config: PeerConfig;
  /** The peer's heartbeat runtime: organs register on it, the transport pushes inputs into it. */
  readonly runtime: Runtime;
  readonly log: Logger;
  readonly handlers: readonly LoadedHandler[];
  /** Registers a hook to run at shutdown (newest first), after the last beat has finished. */
  onShutdown(name: string, hook: ShutdownHook): void;
  /** Wraps every provider before the transport uses it (a durable peer holds sends until their beat is on disk). */
  readonly wrapProvider?: (provider: ProviderV1) => ProviderV1;
}
