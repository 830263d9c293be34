/**
 * The per-frame serializer policy. The transport manager fills one per mount from the
 * mount's negotiated `serializer/` branch and its config (the AEAD key is per mount,
 * never process-wide).
 */
import { serializerError } from './errors.ts';
import { AEAD_MODE, type AeadModeName } from './aead.ts';
import { DEFAULT_MAX_FRAME_BYTES } from './frame-format.ts';

/** What a writer may use and what a reader will accept. */
export interface SerializerPolicy {
  /** Checksum id 1 (the reference's CRC32C) instead of CRC-32. */
  readonly crc32c?: boolean;
  /** Wrap frames in the deflate container when it makes them smaller. */
  readonly deflate?: boolean;
  /**
   * With `deflate`, frames smaller than this many bytes go out plain, byte for byte what a
   * policy without deflate writes (default {@link DEFLATE_MIN_BYTES}, 16 KiB; 0 tries every
   * frame). zlib's setup costs the same whatever the input, more than the bytes it saves on a
   * small frame take to send over loopback or a LAN: see FORMAT.md §9.
   */
  readonly deflateMinBytes?: number;
  /**
   * Encrypt payloads. With AEAD on the writer never inlines payloads (they would go in
   * plaintext) and the reader refuses any plaintext payload: fail closed both ways.
   */
  readonly aead?: { readonly mode: AeadModeName; readonly key: Uint8Array };
  /** Highest comparator/format version the reader accepts (default unlimited). */
  readonly cmpMaxVer?: number;
  /** Largest frame, compressed or not (default 64 MiB). */
  readonly maxFrameBytes?: number;
}

/**
 * The comparator version of our dictionaries' order (names, `CEP:cmp:name` v1). The flat
 * format carries no comparator identity, so the ceiling is enforced at both ends against
 * this constant: a writer whose reader cannot take v1 refuses to emit; a reader configured
 * below v1 refuses to read dictionaries.
 */
export const COMPARATOR_VERSION = 1;

/**
 * Default {@link SerializerPolicy.deflateMinBytes}. Measured here: one `deflateSync` call costs
 * about as much for 1.2 KB as for 16 KB (most of it is zlib's per-stream setup), and the
 * bytes deflate saves on a frame under 16 KiB take less time to send at 1 Gbit/s than that.
 */
export const DEFLATE_MIN_BYTES = 16 * 1024;

export interface ResolvedPolicy {
  readonly checksum: 0 | 1;
  readonly deflate: boolean;
  readonly deflateMinBytes: number;
  readonly aead: { readonly mode: number; readonly key: Uint8Array } | undefined;
  readonly cmpMaxVer: number;
  readonly maxFrameBytes: number;
}

export function resolvePolicy(policy: SerializerPolicy = {}): ResolvedPolicy {
  const cmpMaxVer = policy.cmpMaxVer ?? 0xffffffff;
  if (!Number.isSafeInteger(cmpMaxVer) || cmpMaxVer < 0)
    throw serializerError('POLICY_INVALID', `cmpMaxVer must be a whole number ≥ 0, got ${String(cmpMaxVer)}`);
  const maxFrameBytes = policy.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  if (!Number.isSafeInteger(maxFrameBytes) || maxFrameBytes < 61)
    throw serializerError('POLICY_INVALID', `maxFrameBytes must be at least 61 (an empty frame), got ${String(maxFrameBytes)}`);
  const deflateMinBytes = policy.deflateMinBytes ?? DEFLATE_MIN_BYTES;
  if (!Number.isSafeInteger(deflateMinBytes) || deflateMinBytes < 0)
    throw serializerError('POLICY_INVALID', `deflateMinBytes must be a whole number ≥ 0, got ${String(deflateMinBytes)}`);
  let aead: ResolvedPolicy['aead'];
  if (policy.aead !== undefined) {
    const mode = AEAD_MODE[policy.aead.mode];
    if (mode === undefined) throw serializerError('POLICY_INVALID', `AEAD mode ${String(policy.aead.mode)} is not xchacha20poly1305 or chacha20poly1305`);
    if (!(policy.aead.key instanceof Uint8Array) || policy.aead.key.length !== 32) throw serializerError('AEAD_KEY_INVALID', 'an AEAD key is 32 bytes');
    aead = { mode, key: policy.aead.key };
  }
  return { checksum: policy.crc32c ? 1 : 0, deflate: policy.deflate === true, deflateMinBytes, aead, cmpMaxVer, maxFrameBytes };
}

export function checkComparator(policy: ResolvedPolicy, side: 'write' | 'read'): void {
  if (policy.cmpMaxVer < COMPARATOR_VERSION) {
    throw serializerError(
      'CMP_VERSION_TOO_HIGH',
      side === 'write'
        ? `refusing to write: dictionaries use comparator version ${COMPARATOR_VERSION} and the reader accepts at most ${policy.cmpMaxVer}`
        : `refusing to read: dictionaries use comparator version ${COMPARATOR_VERSION}, above this reader's ceiling ${policy.cmpMaxVer}`,
      { version: COMPARATOR_VERSION, ceiling: policy.cmpMaxVer },
    );
  }
}
