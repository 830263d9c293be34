/**
 * The provider interface the manager is written against. It lives in `@cep/provider-spec`
 * (so providers need not depend on the runtime); this module only names it for the
 * transport's own files.
 */
export {
  PROVIDER_SPEC_V1,
  providerError,
  type Capability,
  type KnownCapability,
  type OpenRequestV1,
  type ChannelInfoV1,
  type SendResultV1,
  type ChannelEventV1,
  type ChannelV1,
  type GroupSubscriptionV1,
  type ListenOptionsV1,
  type ListenerV1,
  type RejectionV1,
  type ProviderV1,
  type ProviderErrorCode,
} from '@cep/provider-spec';
