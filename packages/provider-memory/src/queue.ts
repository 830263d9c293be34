import { QUEUED_FRAME_OVERHEAD } from './options.ts';

/** What a queued frame counts for against the water marks. */
export function cost(frame: Uint8Array): number {
  return frame.length + QUEUED_FRAME_OVERHEAD;
}

/**
 * A FIFO of frames that keeps its cost in bytes. A plain array's `shift` is O(n) on
 * long queues (a stalled channel may hold ~500k small frames), so this keeps a head
 * index and compacts when the dead prefix is at least half the array.
 */
export class FrameQueue {
  private items: (Uint8Array | undefined)[] = [];
  private head = 0;
  /** Sum of {@link cost} over the queued frames. */
  bytes = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(frame: Uint8Array): void {
    this.items.push(frame);
    this.bytes += cost(frame);
  }

  shift(): Uint8Array | undefined {
    if (this.head === this.items.length) return undefined;
    const frame = this.items[this.head]!;
    this.items[this.head++] = undefined;
    this.bytes -= cost(frame);
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return frame;
  }

  /** Removes and returns every queued frame, oldest first. */
  drain(): Uint8Array[] {
    const out = this.items.slice(this.head) as Uint8Array[];
    this.items = [];
    this.head = 0;
    this.bytes = 0;
    return out;
  }
}
