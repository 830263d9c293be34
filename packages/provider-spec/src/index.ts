/**
 * `@cep/provider-spec`: the contract between the CEP transport manager and a transport provider
 * (version 1), and what a provider needs to throw typed errors. No runtime, no native code:
 * a provider package depends on this (as a peer) and on nothing else from CEP. Also a small
 * toolkit for provider authors (`whenReady`, `whenClosed`, `createFrameQueue`).
 */
export {
  PROVIDER_SPEC_V1,
  providerError,
  type Capability,
  type KnownCapability,
  type OpenRequestV1,
  type ChannelInfoV1,
  type PeerIdentityV1,
  type SendResultV1,
  type ChannelEventV1,
  type ChannelV1,
  type GroupSubscriptionV1,
  type ListenOptionsV1,
  type ListenerV1,
  type RejectionV1,
  type ProviderV1,
  type ProviderErrorCode,
} from './v1.ts';
export { CepError, isCepError } from '@cep/errors';
// The provider author's toolkit: small helpers every provider would otherwise write again.
export { whenReady } from './when-ready.ts';
export { whenClosed, type ChannelClosedV1 } from './when-closed.ts';
export { createFrameQueue, type FrameQueue, type FrameQueueOptions, type FrameQueuePushResult } from './frame-queue.ts';
export { jitteredBackoff, type JitteredBackoffOptions, type ReconnectDelay } from './backoff.ts';
export { loggedRejects, silentLogger, type ProviderLogger } from './logger.ts';
