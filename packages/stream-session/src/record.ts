/**
 * Authenticated records after the handshake (a record is one frame, a batch of small
 * frames, or a goodbye):
 *
 *   u32 payload length | u8 type | u64 sequence | payload | 16-byte tag
 *
 * The tag (GMAC, see crypto.ts) covers the 13-byte header and the payload, with the
 * sequence number as nonce. The length is checked against the limit before a byte of
 * the payload is buffered for it.
 */
export const HEADER_BYTES = 13;
export const DATA = 1;
export const GOODBYE = 2;
/** Several small frames in one record, each as u32 length + bytes: one MAC and one write for all. */
export const BATCH = 3;
/** Largest batch record body a peer may send (the sender's coalescing buffer size). */
export const MAX_BATCH_BYTES = 64 * 1024;
/** Largest goodbye reason carried to the remote side, in bytes. */
export const MAX_GOODBYE_BYTES = 256;

export function writeHeader(buf: Buffer, at: number, length: number, type: number, seq: number): void {
  buf.writeUInt32BE(length, at);
  buf[at + 4] = type;
  buf.writeUInt32BE(Math.floor(seq / 0x1_0000_0000), at + 5);
  buf.writeUInt32BE(seq >>> 0, at + 9);
}

export function readSeq(header: Buffer): number {
  return header.readUInt32BE(5) * 0x1_0000_0000 + header.readUInt32BE(9);
}
