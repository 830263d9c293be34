/** Frames at most this big are copied into a shared slab; larger ones get their own buffer. */
const POOLED_MAX = 8 * 1024;
/** Below this, V8 allocates a typed array on its heap so cheaply that a slab view costs more. */
const POOLED_MIN = 128;
const SLAB_BYTES = 64 * 1024;

/**
 * Copies frames for one sender. Mid-sized frames are packed into 64 KiB slabs and handed
 * out as views (as Node's Buffer pool does): a separate ArrayBuffer per 1 KiB frame costs
 * ~4× the copy itself. The contract allows it ("a frame may be a view into a larger
 * buffer"); the price is that a kept frame keeps its slab alive. Not `frame.slice()`:
 * on a Node Buffer that is a view, not a copy.
 */
export class FrameCopier {
  private slab: Uint8Array | null = null;
  private offset = 0;

  copy(frame: Uint8Array): Uint8Array {
    const n = frame.length;
    if (n < POOLED_MIN || n > POOLED_MAX) return new Uint8Array(frame);
    if (this.slab === null || this.offset + n > SLAB_BYTES) {
      this.slab = new Uint8Array(SLAB_BYTES);
      this.offset = 0;
    }
    this.slab.set(frame, this.offset);
    const out = this.slab.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }
}
