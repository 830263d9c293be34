/** A CEP transport provider over NATS: mounts on subjects, peers authenticated end to end. */
export { nats, NATS_ACKED_CAPS, NATS_AT_MOST_ONCE_CAPS } from './provider.ts';
export { DEFAULT_SERVER, type NatsOptions, type NatsCredentials, type NatsDelivery, type NatsRejectInfo } from './options.ts';
export type { NatsErrorCode } from './errors.ts';
export { KEY_BYTES } from './crypto.ts';
