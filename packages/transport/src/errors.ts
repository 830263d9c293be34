import { CepError } from '@cep/errors';

/** Stable codes of the errors the transport manager throws. */
export type TransportErrorCode =
  /** A mount's peer, mode, mount or local node is not a CEP word, or a field has the wrong type. */
  | 'MOUNT_INVALID'
  /** No mount with that peer/mode/mount is known. */
  | 'MOUNT_UNKNOWN'
  /** The mount is closed or in error: nothing can be sent on it. */
  | 'MOUNT_CLOSED'
  /** A provider is not a v1 provider, or its id or caps are not valid. */
  | 'PROVIDER_INVALID'
  /** A provider with that id is registered already. */
  | 'PROVIDER_DUPLICATE'
  /** A gauge (`upd_latest`) frame was sent on a mount that opted out of dropping. */
  | 'UPD_DENIED'
  /** More frames are queued on a mount than its limit (`maxQueuedFrames`). */
  | 'QUEUE_FULL'
  /** A frame is larger than the mount's `maxFrameBytes`. */
  | 'FRAME_TOO_LARGE'
  /** A listener could not be started. */
  | 'LISTEN_FAILED'
  /** A peer has `maxMountsPerPeer` mounts already: another one is refused. */
  | 'MOUNT_LIMIT'
  /** An option of `createTransportManager` is out of range. */
  | 'OPTIONS_INVALID'
  /** A group frame was asked of a mount that does not seal frames with AEAD. */
  | 'GROUP_UNSEALED'
  /** A group publish on a mount whose channel cannot publish to groups. */
  | 'GROUP_UNSUPPORTED';

/** Every code, for tests and docs. */
export const TRANSPORT_ERROR_CODES: readonly TransportErrorCode[] = Object.freeze([
  'MOUNT_INVALID',
  'MOUNT_UNKNOWN',
  'MOUNT_CLOSED',
  'PROVIDER_INVALID',
  'PROVIDER_DUPLICATE',
  'UPD_DENIED',
  'QUEUE_FULL',
  'FRAME_TOO_LARGE',
  'LISTEN_FAILED',
  'MOUNT_LIMIT',
  'OPTIONS_INVALID',
  'GROUP_UNSEALED',
  'GROUP_UNSUPPORTED',
]);

export function transportError(code: TransportErrorCode, message: string, details: Record<string, unknown> = {}): CepError<TransportErrorCode> {
  return new CepError(code, message, details);
}
