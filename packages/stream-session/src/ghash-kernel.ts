/**
 * The WebAssembly GHASH of wasm/ghash.wat, shared by every {@link Gmac} of the process: one
 * instance, 8 KiB of tables per live key (freed slots are reused), page 0 for the input. A block
 * there is 32 pairs of i64 table loads. Without WebAssembly, {@link ghashKernel} answers undefined
 * and gmac.ts uses its JavaScript tables.
 */
import { GHASH_WASM_BASE64 } from './ghash-wasm.ts';

/** The parts of the WebAssembly JS API used here (the package's type libraries do not declare it). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (module: object) => { readonly exports: unknown };
}

interface Exports {
  readonly memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  readonly ghash: (table: number, end: number) => void;
}

const PAGE = 65536;
/** Bytes of one key's tables: 32 nibble positions × 16 values × 16 bytes. */
export const TABLE_BYTES = 32 * 16 * 16;
/** Where the input starts in page 0 (the result takes bytes 0–15). */
export const INPUT_AT = 16;
/** Longest input (AAD, its padding and the length block) page 0 holds. */
export const MAX_INPUT_BYTES = PAGE - INPUT_AT;

/** The shared kernel. */
export class GhashKernel {
  private heapView: Uint8Array;
  private readonly free: number[] = [];
  /** Where the next new slot goes (page 0 is the input's). */
  private end = PAGE;

  constructor(private readonly exports: Exports) {
    this.heapView = new Uint8Array(exports.memory.buffer);
  }

  /** The memory as bytes (a fresh view after the memory grew: growing detaches the old buffer). */
  get heap(): Uint8Array {
    if (this.heapView.buffer !== this.exports.memory.buffer) this.heapView = new Uint8Array(this.exports.memory.buffer);
    return this.heapView;
  }

  /** A slot for one key's tables: a freed one, or the next one (the memory grows a page at a time). Returns its byte offset. */
  allocate(): number {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    if (this.end + TABLE_BYTES > this.exports.memory.buffer.byteLength) this.exports.memory.grow(1);
    const at = this.end;
    this.end += TABLE_BYTES;
    return at;
  }

  /** Gives a key's slot back (its Gmac is gone). */
  release(table: number): void {
    this.heap.fill(0, table, table + TABLE_BYTES);
    this.free.push(table);
  }

  /** GHASH of the whole blocks at [INPUT_AT, end) with the tables at `table`; the result is heap[0, 16). */
  run(table: number, end: number): void {
    this.exports.ghash(table, end);
  }
}

let kernel: GhashKernel | null | undefined;

/** The process's kernel, made at first use; undefined where WebAssembly is missing or refuses the module. */
export function ghashKernel(): GhashKernel | undefined {
  if (kernel === undefined) {
    kernel = null;
    const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    const bytes = new Uint8Array(Buffer.from(GHASH_WASM_BASE64, 'base64'));
    if (wasm?.validate(bytes) === true) {
      try {
        kernel = new GhashKernel(new wasm!.Instance(new wasm!.Module(bytes)).exports as Exports);
      } catch {
        kernel = null;
      }
    }
  }
  return kernel ?? undefined;
}

/** Test hook: forget the kernel, or run without one (`false`), to compare both paths. */
export function setGhashKernelForTests(use: boolean): void {
  kernel = use ? undefined : null;
}
