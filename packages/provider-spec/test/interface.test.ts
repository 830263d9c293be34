/**
 * Pins the public provider interface, version 1. Published providers are written against these
 * shapes, so any change to them (a renamed field, a dropped `readonly`, a new required member, a
 * narrowed union) must be deliberate: it fails this file's typecheck, and then belongs in a v2
 * beside v1, not in v1. The `expectTypeOf` lines are checked by `tsc` (the package typecheck);
 * the runtime assertions check the values.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { CepError as ErrorsCepError } from '@cep/errors';
import {
  CepError,
  isCepError,
  PROVIDER_SPEC_V1,
  providerError,
  type Capability,
  type ChannelEventV1,
  type ChannelInfoV1,
  type ChannelV1,
  type GroupSubscriptionV1,
  type KnownCapability,
  type ListenerV1,
  type ListenOptionsV1,
  type OpenRequestV1,
  type PeerIdentityV1,
  type ProviderErrorCode,
  type ProviderLogger,
  type ProviderV1,
  type ReconnectDelay,
  type RejectionV1,
  type SendResultV1,
} from '@cep/provider-spec';

describe('the v1 provider interface', () => {
  it('names its version', () => {
    expect(PROVIDER_SPEC_V1).toBe('cep-provider-v1');
    expectTypeOf(PROVIDER_SPEC_V1).toEqualTypeOf<'cep-provider-v1'>();
  });

  it('pins the provider and listener shapes', () => {
    expectTypeOf<ProviderV1>().toEqualTypeOf<{
      readonly specificationVersion: 'cep-provider-v1';
      readonly id: string;
      readonly caps: readonly Capability[];
      open(request: OpenRequestV1): Promise<ChannelV1>;
      listen?(options: ListenOptionsV1, onChannel: (channel: ChannelV1) => void): Promise<ListenerV1>;
      close(): Promise<void>;
    }>();
    expectTypeOf<OpenRequestV1>().toEqualTypeOf<{
      readonly peer: string;
      readonly mode: string;
      readonly mount: string;
      readonly localNode: string;
      readonly address: string;
      readonly signal?: AbortSignal;
    }>();
    expectTypeOf<ListenOptionsV1>().toEqualTypeOf<{
      readonly address: string;
      readonly onReject?: (rejection: RejectionV1) => void;
    }>();
    expectTypeOf<RejectionV1>().toEqualTypeOf<{
      readonly code: ProviderErrorCode | (string & {});
      readonly reason: string;
      readonly claimedPeer?: string;
      readonly remoteAddress?: string;
    }>();
    expectTypeOf<ListenerV1>().toEqualTypeOf<{
      readonly address: string;
      close(): Promise<void>;
    }>();
  });

  it('pins the logger a provider accepts and the shape of a reconnect delay', () => {
    type Fields = Record<string, unknown>;
    expectTypeOf<ProviderLogger>().toEqualTypeOf<{
      debug(fields: Fields, message: string): void;
      info(fields: Fields, message: string): void;
      warn(fields: Fields, message: string): void;
      error(fields: Fields, message: string): void;
      child(bindings: Fields): ProviderLogger;
    }>();
    expectTypeOf<ReconnectDelay>().toEqualTypeOf<(attempt: number) => number>();
  });

  it('pins the channel, its info and its events', () => {
    expectTypeOf<ChannelV1>().toEqualTypeOf<{
      readonly info: ChannelInfoV1;
      send(frame: Uint8Array): SendResultV1;
      frames(): AsyncIterable<Uint8Array>;
      onEvent(listener: (event: ChannelEventV1) => void): () => void;
      close(reason: string): Promise<void>;
      publish?(group: string, frame: Uint8Array): SendResultV1;
      join?(group: string): GroupSubscriptionV1;
    }>();
    expectTypeOf<GroupSubscriptionV1>().toEqualTypeOf<{
      readonly group: string;
      frames(): AsyncIterable<Uint8Array>;
      leave(): void;
    }>();
    expectTypeOf<ChannelInfoV1>().toEqualTypeOf<{
      readonly provider: string;
      readonly peer: string;
      readonly mode: string;
      readonly mount: string;
      readonly initiator: boolean;
      readonly remoteAddress?: string;
      readonly maxFrameBytes: number;
      readonly ownedFrames?: boolean;
      readonly sessionId?: string;
      readonly remoteSession?: string;
      readonly remoteIdentity?: PeerIdentityV1;
      readonly groupScope?: string;
    }>();
    expectTypeOf<PeerIdentityV1>().toEqualTypeOf<{
      readonly publicKey: string;
      readonly fingerprint: string;
      readonly protocol?: string;
      readonly version?: number;
    }>();
    expectTypeOf<SendResultV1>().toEqualTypeOf<'ready' | 'backpressure'>();
    expectTypeOf<ChannelEventV1>().toEqualTypeOf<
      | { readonly type: 'ready' }
      | { readonly type: 'backpressure'; readonly bufferedBytes: number }
      | { readonly type: 'reconnecting'; readonly attempt: number; readonly delayMs: number; readonly reason: string }
      | { readonly type: 'fatal'; readonly error: ErrorsCepError }
      | { readonly type: 'closed'; readonly reason: string }
      | { readonly type: 'session'; readonly id: string }
    >();
  });

  it('pins the capabilities and the shared error codes', () => {
    expectTypeOf<KnownCapability>().toEqualTypeOf<
      | 'reliable'
      | 'ordered'
      | 'streaming'
      | 'datagram'
      | 'multicast'
      | 'low_latency'
      | 'local_ipc'
      | 'remote_net'
      | 'unreliable'
      | 'crc32c'
      | 'deflate'
      | 'aead'
    >();
    expectTypeOf<Capability>().toEqualTypeOf<KnownCapability | (string & {})>();
    expectTypeOf<ProviderErrorCode>().toEqualTypeOf<
      | 'CHANNEL_CLOSED'
      | 'CHANNEL_OVERFLOW'
      | 'FRAME_TOO_LARGE'
      | 'OPEN_ABORTED'
      | 'OPEN_FAILED'
      | 'AUTH_FAILED'
      | 'PEER_MISMATCH'
      | 'REPLAYED_FRAME'
      | 'PROTOCOL_ERROR'
      | 'ADDRESS_INVALID'
      | 'CONNECTION_LOST'
      | 'FRAMES_TAKEN'
      | 'HANDSHAKE_TIMEOUT'
      | 'INVALID_OPTIONS'
    >();
  });
});

describe('typed errors for providers', () => {
  it('providerError makes a CepError the transport recognises, with code and details', () => {
    expectTypeOf(providerError).toEqualTypeOf<
      (code: ProviderErrorCode, message: string, details?: Record<string, unknown>) => ErrorsCepError<ProviderErrorCode>
    >();
    const error = providerError('AUTH_FAILED', 'saturn refused our key', { peer: 'saturn' });
    expect(error).toBeInstanceOf(ErrorsCepError);
    expect(isCepError(error, 'AUTH_FAILED')).toBe(true);
    expect(error.details).toEqual({ peer: 'saturn' });
  });

  it('re-exports the one CepError class of @cep/errors (not a look-alike)', () => {
    expect(CepError).toBe(ErrorsCepError);
  });
});
