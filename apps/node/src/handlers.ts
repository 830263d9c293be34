/**
 * The small API an invoke handler module implements, and its loader.
 *
 * A handler runs inside a beat on this peer when a remote peer invokes it (the
 * invoke organ turns the call into a normal impulse). It must be synchronous and
 * must not read the wall clock: its result is part of the deterministic run.
 */
import { pathToFileURL } from 'node:url';
import type { Tree, Value } from '@cep/cells';
import type { DeferredStep } from './defer.ts';
import { nodeError } from './errors.ts';
import type { PeerConfig } from './config/schema.ts';
import { importModule } from './import-module.ts';

/** One call, as the invoke organ hands it to a handler. */
export interface InvokeCall {
  /** The call's id (unique per call, the same on both peers): a handler may record it to tell a retry from a new call. */
  readonly invokeId: string;
  /** The beat the call runs in. */
  readonly beat: number;
  /** The caller's peer name. */
  readonly caller: string;
  /** The signal path the caller sent (text form). */
  readonly signal: string;
  /** The target path, when the caller named one. */
  readonly target?: string;
  /** The payload, when the caller sent one. */
  readonly payload?: Value;
  /** This peer's cell tree (writes are stamped with `beat`). */
  readonly tree: Tree;
  /**
   * Continues the call's work in the following beats: `step(tree, beat)` runs once per beat,
   * from the next one, until it returns `true`. For a handler with much to write, so other
   * calls and mounts are not stuck behind one long beat: write a bounded part now and the rest
   * in steps bounded by what they write (cells, bytes), never by a clock. The call is answered
   * at the end of this beat, before the deferred steps run; work left when the peer stops is
   * not resumed. Always present on a `cep-node` peer; optional so a handler can be called
   * without one (e.g. in a unit test), where it should do all of its work at once.
   */
  readonly defer?: (step: DeferredStep) => void;
}

/** What a handler answers: a result (sent back to the caller) or a refusal (`tp_inv_reject` there). */
export type InvokeOutcome = { readonly status: 'ok'; readonly result?: Value } | { readonly status: 'reject'; readonly note: string };

/** An invoke handler: what a handler module exports. */
export interface InvokeHandler {
  /** Optional one-line description, shown in logs and by `inspect`. */
  readonly description?: string;
  run(call: InvokeCall): InvokeOutcome;
}

/** Identity helper that gives a handler module its types: `export default defineHandler({ run(call) {…} })`. */
export function defineHandler(handler: InvokeHandler): InvokeHandler {
  return handler;
}

/** A handler module loaded from the config's `invoke` list. */
export interface LoadedHandler {
  /** The name callers invoke (a CEP word, from the config). */
  readonly name: string;
  /** Absolute path of the module. */
  readonly module: string;
  readonly handler: InvokeHandler;
}

function isHandler(value: unknown): value is InvokeHandler {
  return typeof value === 'object' && value !== null && typeof (value as { run?: unknown }).run === 'function';
}

/**
 * Imports every handler module named in `config.invoke`, before anything starts.
 * `file` is the config file's name, for messages (`peer.yaml: invoke[0].module: …`).
 */
export async function loadHandlers(config: PeerConfig, file: string): Promise<LoadedHandler[]> {
  const loaded: LoadedHandler[] = [];
  for (const [i, entry] of config.invoke.entries()) {
    const field = `${file}: invoke[${i}].module`;
    let mod: Record<string, unknown>;
    try {
      mod = await importModule(pathToFileURL(entry.module).href);
    } catch (error) {
      throw nodeError('HANDLER_LOAD_FAILED', `${field}: cannot load ${entry.module}: ${(error as Error).message}`, { file, index: i }, error);
    }
    let exported = mod[entry.export];
    if (typeof exported === 'function') exported = { run: exported };
    if (!isHandler(exported)) {
      throw nodeError(
        'HANDLER_INVALID',
        `${field}: ${entry.module} has no handler in export "${entry.export}" (export an object with run(call), e.g. export default defineHandler({ run(call) { … } }))`,
        { file, index: i },
      );
    }
    loaded.push({ name: entry.name, module: entry.module, handler: exported });
  }
  return loaded;
}
