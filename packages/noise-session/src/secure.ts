import type { Duplex } from 'node:stream';
import { runInitiator, runResponder } from './handshake.ts';
import { resolveLimits, type InitiatorOptions, type ResponderOptions } from './options.ts';
import { SecureSession } from './session.ts';

/**
 * Runs the dialling side of the handshake over `stream` (a connected socket or any
 * Duplex of bytes) and returns the encrypted session. Rejects with a `CepError`
 * (`NOISE_*`) and destroys the stream when the remote is not who `options.peer` names
 * on the allow-list, or anything else fails.
 */
export async function secureInitiator(stream: Duplex, options: InitiatorOptions): Promise<SecureSession> {
  const limits = resolveLimits(options);
  const { peer, keys, rest, cipher } = await runInitiator(stream, options);
  return new SecureSession({ stream, peer, keys, rest, cipher, limits, allowList: options.allowList });
}

/**
 * Runs the accepting side of the handshake over `stream` and returns the encrypted
 * session; `session.peer` names the authenticated remote (and carries its `hello`).
 */
export async function secureResponder(stream: Duplex, options: ResponderOptions): Promise<SecureSession> {
  const limits = resolveLimits(options);
  const { peer, keys, rest, cipher } = await runResponder(stream, options);
  return new SecureSession({ stream, peer, keys, rest, cipher, limits, allowList: options.allowList });
}
