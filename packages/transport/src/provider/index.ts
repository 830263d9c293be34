/**
 * `@cep/transport/provider`: the provider contract, for provider authors.
 * Import from here (not from `@cep/transport`) to depend on the interface only.
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
  type ListenOptionsV1,
  type ListenerV1,
  type RejectionV1,
  type ProviderV1,
  type ProviderErrorCode,
} from './v1.ts';
export { CepError } from '@cep/errors';
