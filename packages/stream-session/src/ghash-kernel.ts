/**
 * The WebAssembly GHASH of wasm/ghash.wat, shared by every {@link Gmac} of the process: one
 * instance, one 64 KiB page of tables per live key (freed slots are reused), page 0 for the input.
 * A block there is 16 i64 table loads; the same tables in JavaScript cost about twice as much
 * (bench/gmac.ts). Without WebAssembly, {@link ghashKernel} answers undefined and gmac.ts uses
 * its JavaScript tables.
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
/** Where the input starts in page 0 (the result takes bytes 0–15). */
export const INPUT_AT = 16;
/** Longest input (AAD, its padding and the length block) page 0 holds. */
export const MAX_INPUT_BYTES = PAGE - INPUT_AT;

/** The shared kernel. */
export class GhashKernel {
  private heapView: Uint8Array;
  private readonly free: number[] = [];
  private pages = 1;

  constructor(private readonly exports: Exports) {
    this.heapView = new Uint8Array(exports.memory.buffer);
  }

  /** The memory as bytes (a fresh view after the memory grew: growing detaches the old buffer). */
  get heap(): Uint8Array {
    if (this.heapView.buffer !== this.exports.memory.buffer) this.heapView = new Uint8Array(this.exports.memory.buffer);
    return this.heapView;
  }

  /** A page for one key's tables: a freed one, or a new page at the end. Returns its byte offset. */
  allocate(): number {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    this.exports.memory.grow(1);
    return PAGE * this.pages++;
  }

  /** Gives a key's page back (its Gmac is gone). */
  release(table: number): void {
    this.heap.fill(0, table, table + PAGE);
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
    if (wasm !== undefined && wasm.validate(bytes)) {
      try {
        kernel = new GhashKernel(new wasm.Instance(new wasm.Module(bytes)).exports as Exports);
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
