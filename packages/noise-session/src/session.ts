import { Duplex } from 'node:stream';
import type { AllowList } from './allow-list.ts';
import { noiseError } from './errors.ts';
import type { AuthenticatedPeer } from './handshake.ts';
import { sameKey } from './keys.ts';
import type { SplitKeys } from './noise-state.ts';
import type { ResolvedLimits } from './options.ts';
import { TAG_BYTES, type CipherName } from './primitives.ts';
import { MAX_COUNTER, TransportCipher } from './transport-cipher.ts';
import type { CepError } from '@cep/errors';

/**
 * Records after the handshake:
 *
 *   u32 body length | u8 key epoch | u64 counter | body = AEAD(plaintext) + 16-byte tag
 *   plaintext = u8 type | …   type 1 MESSAGES: (u32 length | bytes)*   type 2 GOODBYE
 *
 * The counter is the nonce (it must be exactly the next one: a lower one is a replay, a
 * higher one a reordering); the epoch counts the sender's rekeys, so the receiver follows
 * a rekey whatever its own limits are.
 */
export const RECORD_HEADER_BYTES = 13;
const MESSAGES = 1;
const GOODBYE = 2;
/** Messages sent in one burst are packed into records of up to this plaintext size. */
export const BATCH_BYTES = 64 * 1024;
/** Messages up to this size are copied into a shared record; larger ones get a record of their own. */
const SMALL_MESSAGE_BYTES = 8 * 1024;

export interface SessionInit {
  readonly stream: Duplex;
  readonly peer: AuthenticatedPeer;
  readonly keys: SplitKeys;
  readonly rest: Buffer;
  readonly cipher: CipherName;
  readonly limits: ResolvedLimits;
  readonly allowList: AllowList;
}

/**
 * An encrypted, authenticated, ordered message channel over one byte stream.
 *
 * Write side: bytes mode, each `write`/`send` is one message (boundaries are kept).
 * Read side: object mode, each item a `Uint8Array` message — `for await (const m of session)`.
 * `end()` sends a goodbye; the stream is released when both sides said goodbye. Any
 * failure destroys the session with a `CepError` (`NOISE_*` code) and the stream with it.
 */
export class SecureSession extends Duplex {
  /** The authenticated remote. */
  readonly peer: AuthenticatedPeer;
  private readonly stream: Duplex;
  private readonly limits: ResolvedLimits;
  private readonly send$: TransportCipher;
  private readonly recv: TransportCipher;
  private sendEpoch = 0;
  private recvEpoch = 0;
  private sentBytes = 0;
  private sentRecords = 0;
  private inChunks: Buffer[] = [];
  private inBytes = 0;
  private pending: { length: number; epoch: number; counter: number } | null = null;
  private goodbyeReceived = false;
  /**
   * Set when the reader's buffer is full: no further record is opened (and the stream is
   * paused) until the reader asks for more. Bytes the stream already handed over wait, still
   * sealed, in `inChunks`, so a stalled reader holds at most one record's messages unsealed.
   */
  private readPaused = false;
  private readonly maxBody: number;
  private readonly unsubscribe: () => void;

  constructor(init: SessionInit) {
    super({
      readableObjectMode: true,
      writableObjectMode: false,
      writableHighWaterMark: init.limits.highWaterMark,
      // Counted in messages: push() reports full as soon as one is waiting, so a reader that
      // stalls holds the messages of one record (at most one large message), never more.
      readableHighWaterMark: 1,
      decodeStrings: true,
    });
    this.peer = init.peer;
    this.stream = init.stream;
    this.limits = init.limits;
    this.send$ = new TransportCipher(init.keys.sendKey, init.cipher);
    this.recv = new TransportCipher(init.keys.receiveKey, init.cipher);
    this.maxBody = Math.max(BATCH_BYTES, 5 + init.limits.maxMessageBytes) + TAG_BYTES;
    this.unsubscribe = init.allowList.onRevoke((revoked) => {
      if (sameKey(revoked.publicKey, this.peer.publicKey)) {
        this.destroy(
          noiseError('NOISE_KEY_REVOKED', `the key of "${this.peer.name}" (${revoked.fingerprint}) was removed from the allow-list`, { peer: this.peer.name }),
        );
      }
    });
    this.stream.on('data', this.onData);
    this.stream.on('end', this.onStreamEnd);
    this.stream.on('close', this.onStreamEnd);
    this.stream.on('error', this.onStreamError);
    if (init.rest.length > 0) this.onData(init.rest);
    this.stream.resume();
  }

  /**
   * Sends one message. Returns false when the buffer is above `highWaterMark` (wait for
   * `drain`). Throws `NOISE_RECORD_TOO_LARGE` above `maxMessageBytes` and
   * `NOISE_SESSION_CLOSED` after `end()` or a failure, sending nothing either way.
   */
  send(message: Uint8Array): boolean {
    if (message.length > this.limits.maxMessageBytes) {
      throw noiseError('NOISE_RECORD_TOO_LARGE', `a message of ${message.length} bytes is above maxMessageBytes (${this.limits.maxMessageBytes})`, {
        bytes: message.length,
        limit: this.limits.maxMessageBytes,
      });
    }
    if (this.destroyed || this.writableEnded) throw noiseError('NOISE_SESSION_CLOSED', `the session with "${this.peer.name}" is closed`);
    return this.write(message);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this._writev([{ chunk }], callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    // Small messages are copied into one plaintext per record (one cipher call, one tag for
    // many); a large one is encrypted in place from its own buffer behind a 5-byte prefix.
    const records: Uint8Array[][] = [];
    let batch: Buffer[] = [];
    let batchBytes = 1;
    const flushBatch = (): void => {
      if (batch.length === 0) return;
      const plain = Buffer.allocUnsafe(batchBytes);
      plain[0] = MESSAGES;
      let at = 1;
      for (const message of batch) {
        plain.writeUInt32BE(message.length, at);
        message.copy(plain, at + 4);
        at += 4 + message.length;
      }
      records.push([plain]);
      batch = [];
      batchBytes = 1;
    };
    for (const { chunk } of chunks) {
      if (chunk.length > this.limits.maxMessageBytes) {
        callback(noiseError('NOISE_RECORD_TOO_LARGE', `a message of ${chunk.length} bytes is above maxMessageBytes`, { bytes: chunk.length }));
        return;
      }
      if (chunk.length > SMALL_MESSAGE_BYTES) {
        flushBatch();
        const prefix = Buffer.allocUnsafe(5);
        prefix[0] = MESSAGES;
        prefix.writeUInt32BE(chunk.length, 1);
        records.push([prefix, chunk]);
        continue;
      }
      if (batchBytes + 4 + chunk.length > BATCH_BYTES) flushBatch();
      batch.push(chunk);
      batchBytes += 4 + chunk.length;
    }
    flushBatch();
    this.writeRecords(records, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.writeRecords([[Uint8Array.of(GOODBYE)]], callback);
  }

  override _read(): void {
    if (!this.readPaused) return;
    this.readPaused = false;
    this.openBuffered();
    if (!this.readPaused && this.stream.isPaused()) this.stream.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.unsubscribe();
    this.detach();
    this.stream.destroy();
    callback(error);
  }

  /** Seals and writes whole records in one corked burst; `done` runs when the stream took the last byte. */
  private writeRecords(records: Uint8Array[][], done: (error?: Error | null) => void): void {
    if (this.stream.destroyed || !this.stream.writable) {
      done(noiseError('NOISE_CONNECTION_LOST', `the stream to "${this.peer.name}" is closed`));
      return;
    }
    this.stream.cork();
    for (let i = 0; i < records.length; i++) {
      const parts = records[i]!;
      if (this.send$.nextCounter > MAX_COUNTER) {
        this.stream.uncork();
        done(noiseError('NOISE_NONCE_EXHAUSTED', 'the record counter reached its limit; open a new session'));
        return;
      }
      const counter = this.send$.nextCounter;
      const sealed = this.send$.sealRaw(parts);
      let bodyLength = 0;
      for (const piece of sealed) bodyLength += piece.length;
      const header = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
      header.writeUInt32BE(bodyLength, 0);
      header[4] = this.sendEpoch;
      header.writeUInt32BE(Math.floor(counter / 0x1_0000_0000), 5);
      header.writeUInt32BE(counter >>> 0, 9);
      this.stream.write(header);
      const last = i === records.length - 1;
      for (let j = 0; j < sealed.length; j++) {
        // `done` waits for the stream to take the last byte: messages written meanwhile queue
        // up here and leave together, packed, in the next _writev.
        if (last && j === sealed.length - 1) this.stream.write(sealed[j], (error) => done(error ?? null));
        else this.stream.write(sealed[j]);
      }
      this.countSent(bodyLength - TAG_BYTES);
    }
    this.stream.uncork();
  }

  private countSent(plaintextBytes: number): void {
    this.sentBytes += plaintextBytes;
    this.sentRecords += 1;
    if (this.sentBytes >= this.limits.rekeyAfterBytes || this.sentRecords >= this.limits.rekeyAfterRecords) {
      this.send$.rekey();
      this.sendEpoch = (this.sendEpoch + 1) & 0xff;
      this.sentBytes = 0;
      this.sentRecords = 0;
    }
  }

  private readonly onData = (chunk: Buffer): void => {
    this.inChunks.push(chunk);
    this.inBytes += chunk.length;
    this.openBuffered();
  };

  /** Opens the complete records buffered so far, until the reader's buffer is full. */
  private openBuffered(): void {
    try {
      while (!this.destroyed && !this.readPaused) {
        if (this.pending === null) {
          if (this.inBytes < RECORD_HEADER_BYTES) return;
          const header = this.takeBytes(RECORD_HEADER_BYTES);
          const length = header.readUInt32BE(0);
          if (length > this.maxBody) {
            throw noiseError('NOISE_RECORD_TOO_LARGE', `"${this.peer.name}" announced a record of ${length} bytes (limit ${this.maxBody})`, {
              bytes: length,
              limit: this.maxBody,
            });
          }
          if (length < TAG_BYTES + 1) throw noiseError('NOISE_PROTOCOL_ERROR', `a record of ${length} bytes is shorter than its tag`);
          this.pending = { length, epoch: header[4]!, counter: header.readUInt32BE(5) * 0x1_0000_0000 + header.readUInt32BE(9) };
        }
        if (this.inBytes < this.pending.length) return;
        const record = this.pending;
        this.pending = null;
        this.openRecord(record.epoch, record.counter, this.takeBytes(record.length));
      }
    } catch (error) {
      this.destroy(error as CepError);
    }
  }

  private readonly onStreamEnd = (): void => {
    // After the remote's goodbye an end is expected; a write of ours that still fails reports itself.
    if (this.destroyed || this.goodbyeReceived) return;
    this.destroy(noiseError('NOISE_CONNECTION_LOST', `the stream from "${this.peer.name}" ended without a goodbye`, { peer: this.peer.name }));
  };

  private readonly onStreamError = (error: Error): void => {
    this.destroy(
      noiseError('NOISE_CONNECTION_LOST', `the stream to "${this.peer.name}" failed: ${error.message}`, { peer: this.peer.name, cause: error.message }),
    );
  };

  private openRecord(epoch: number, counter: number, body: Buffer): void {
    if (this.goodbyeReceived) throw noiseError('NOISE_PROTOCOL_ERROR', `"${this.peer.name}" sent a record after its goodbye`);
    const expected = this.recv.nextCounter;
    if (counter !== expected) this.refuseCounter(epoch, counter, expected, body);
    if (epoch === ((this.recvEpoch + 1) & 0xff)) {
      this.recv.rekey();
      this.recvEpoch = epoch;
    } else if (epoch !== this.recvEpoch) {
      throw noiseError('NOISE_AUTH_FAILED', `a record from "${this.peer.name}" names key epoch ${epoch}; this side is at ${this.recvEpoch}`);
    }
    const plain = this.recv.openRaw(counter, body);
    if (plain === null)
      throw noiseError('NOISE_AUTH_FAILED', `record ${counter} from "${this.peer.name}" did not decrypt: altered, or sent with another key`, { counter });
    this.recv.advance();
    const type = plain[0];
    if (type === GOODBYE) {
      this.goodbyeReceived = true;
      this.push(null);
      return;
    }
    if (type !== MESSAGES) throw noiseError('NOISE_PROTOCOL_ERROR', `record type ${type}`);
    let at = 1;
    let more = true;
    while (at < plain.length) {
      if (at + 4 > plain.length) throw noiseError('NOISE_PROTOCOL_ERROR', 'a record ends inside a message length');
      const length = plain.readUInt32BE(at);
      if (length > this.limits.maxMessageBytes || at + 4 + length > plain.length) throw noiseError('NOISE_PROTOCOL_ERROR', 'a message runs past its record');
      more = this.push(plain.subarray(at + 4, at + 4 + length)) && more;
      at += 4 + length;
    }
    // The reader has enough: open nothing more and stop the stream, so the kernel buffers
    // fill and the sender sees backpressure.
    if (!more) {
      this.readPaused = true;
      this.stream.pause();
    }
  }

  /** A record whose counter is not the next one: a replay or a reordering if authentic, else garbage. */
  private refuseCounter(epoch: number, counter: number, expected: number, body: Buffer): never {
    const authentic =
      epoch === this.recvEpoch ? this.recv.openRaw(counter, body) : epoch === ((this.recvEpoch + 0xff) & 0xff) ? this.recv.openPrevious(counter, body) : null;
    if (authentic === null) throw noiseError('NOISE_AUTH_FAILED', `a record from "${this.peer.name}" did not decrypt`, { counter, expected });
    if (counter < expected) {
      throw noiseError('NOISE_REPLAY', `"${this.peer.name}" sent record ${counter} again (expected ${expected}): a replay`, { counter, expected });
    }
    throw noiseError('NOISE_OUT_OF_ORDER', `"${this.peer.name}" sent record ${counter} before ${expected}: reordered or dropped`, { counter, expected });
  }

  private takeBytes(n: number): Buffer {
    const first = this.inChunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.inChunks.shift();
      else this.inChunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let at = 0;
      while (at < n) {
        const chunk = this.inChunks[0]!;
        const used = Math.min(chunk.length, n - at);
        chunk.copy(out, at, 0, used);
        at += used;
        if (used === chunk.length) this.inChunks.shift();
        else this.inChunks[0] = chunk.subarray(used);
      }
    }
    this.inBytes -= n;
    return out;
  }

  private detach(): void {
    this.stream.off('data', this.onData);
    this.stream.off('end', this.onStreamEnd);
    this.stream.off('close', this.onStreamEnd);
    this.stream.off('error', this.onStreamError);
  }
}
