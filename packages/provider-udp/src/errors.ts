import type { ProviderErrorCode } from '@cep/provider-spec';

/** Codes the UDP provider raises: the shared provider codes plus its own. */
export type UdpErrorCode = ProviderErrorCode | 'INVALID_OPTIONS' | 'FRAMES_TAKEN' | 'CONNECTION_LOST';
