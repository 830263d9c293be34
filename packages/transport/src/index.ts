/**
 * @cep/transport — the transport manager: provider catalog, mounts and negotiation, serializer
 * policy per mount, telemetry and CEI. Provider authors import `@cep/transport/provider` only.
 */
export {
  createTransportManager,
  REFUSAL_CODES,
  DEFAULT_INBOUND_BUDGET_BYTES,
  DEFAULT_INBOUND_QUEUED_BYTES_PER_PEER,
  DEFAULT_INBOUND_BUSY_BYTES,
  DEFAULT_MAX_MOUNTS_PER_PEER,
  type AcceptPolicy,
  type MountEvent,
  type MountSpec,
  type TransportManager,
  type TransportManagerOptions,
} from './manager.ts';
export type { Mount, SendOptions, SendOutcome } from './mount.ts';
export type { FrameHandler, InboundFrame } from './inbound.ts';
export {
  negotiate,
  negotiateSerializer,
  type CapabilityRequest,
  type CatalogEntry,
  type NegotiationResult,
  type SerializerFeature,
  type SerializerOutcome,
} from './negotiate.ts';
export { TOPIC, type TransportTopic } from './topics.ts';
export { TRANSPORT_ERROR_CODES, type TransportErrorCode } from './errors.ts';
export { deriveMountKey } from './keys.ts';
export { mountKey, mountPath, readMountSession, telemetryPath, transportPath, type MountSession, type MountState } from './schema.ts';
export { EVENT_INPUT, FRAME_INPUT } from './events.ts';
export type * from './provider/v1.ts';
export { PROVIDER_SPEC_V1, providerError } from './provider/v1.ts';
export { readMountRequest, readTypedField, requestField, isRequestProblem, type MountRequest, type RequestProblem } from './request.ts';
