import { CepError } from '@cep/errors';

/** Every code `@cep/serializer` throws. A reader that throws has applied nothing. */
export type SerializerErrorCode =
  | 'FRAME_TOO_LARGE'
  | 'FRAME_TRUNCATED'
  | 'FRAME_BAD_VARINT'
  | 'FRAME_BAD_MAGIC'
  | 'FRAME_BAD_VERSION'
  | 'FRAME_BAD_CRC'
  | 'FRAME_BAD_ROOT'
  | 'FRAME_BAD_TRAILER'
  | 'FRAME_BAD_TOC'
  | 'FRAME_NO_TRAILER'
  | 'FRAME_TRAILING_BYTES'
  | 'FRAME_COUNT_MISMATCH'
  | 'FRAME_UNKNOWN_CAPS'
  | 'FRAME_UNKNOWN_RECORD'
  | 'FRAME_DUPLICATE_RECORD'
  | 'FRAME_BAD_CONTAINER'
  | 'FRAME_BAD_RECORD'
  | 'CHUNK_OUT_OF_ORDER'
  | 'CHUNK_INCOMPLETE'
  | 'CHUNK_CONFLICT'
  | 'AEAD_TAG_FAILED'
  | 'AEAD_KEY_MISSING'
  | 'AEAD_KEY_INVALID'
  | 'AEAD_REQUIRED'
  | 'PAYLOAD_HASH_MISMATCH'
  | 'NAME_UNRESOLVED'
  | 'NAME_INVALID'
  | 'BRANCH_INCONSISTENT'
  | 'CMP_VERSION_TOO_HIGH'
  | 'POLICY_INVALID';

/** Every code, for callers (and tests) that check an error is one of ours. */
export const SERIALIZER_ERROR_CODES: readonly SerializerErrorCode[] = [
  'FRAME_TOO_LARGE',
  'FRAME_TRUNCATED',
  'FRAME_BAD_VARINT',
  'FRAME_BAD_MAGIC',
  'FRAME_BAD_VERSION',
  'FRAME_BAD_CRC',
  'FRAME_BAD_ROOT',
  'FRAME_BAD_TRAILER',
  'FRAME_BAD_TOC',
  'FRAME_NO_TRAILER',
  'FRAME_TRAILING_BYTES',
  'FRAME_COUNT_MISMATCH',
  'FRAME_UNKNOWN_CAPS',
  'FRAME_UNKNOWN_RECORD',
  'FRAME_DUPLICATE_RECORD',
  'FRAME_BAD_CONTAINER',
  'FRAME_BAD_RECORD',
  'CHUNK_OUT_OF_ORDER',
  'CHUNK_INCOMPLETE',
  'CHUNK_CONFLICT',
  'AEAD_TAG_FAILED',
  'AEAD_KEY_MISSING',
  'AEAD_KEY_INVALID',
  'AEAD_REQUIRED',
  'PAYLOAD_HASH_MISMATCH',
  'NAME_UNRESOLVED',
  'NAME_INVALID',
  'BRANCH_INCONSISTENT',
  'CMP_VERSION_TOO_HIGH',
  'POLICY_INVALID',
];

export function serializerError(code: SerializerErrorCode, message: string, details: Record<string, unknown> = {}): CepError<SerializerErrorCode> {
  return new CepError(code, message, details);
}
