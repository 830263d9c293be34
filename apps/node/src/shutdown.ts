/**
 * Shutdown hooks: what the organs and the transport register to run when the peer
 * stops (flush acknowledged bundles, close mounts, close listeners). They run once,
 * newest first (a part registered later depends on those before it), each bounded
 * by a timeout so one stuck hook cannot keep the process alive.
 */
import type { Logger } from 'pino';
import type { Runtime } from '@cep/heartbeat';
import { OUTCOME_CODE, type InvokeOrgan } from '@cep/organ-invoke';

/** A hook; may be async. */
export type ShutdownHook = () => unknown;

/** The registry of a peer's shutdown hooks. */
export interface ShutdownHooks {
  /** Registers `hook` under `name` (for logs); returns the function that removes it. */
  add(name: string, hook: ShutdownHook): () => void;
  /** Runs every hook, newest first; a failing or slow hook is logged and skipped. */
  run(): Promise<void>;
}

/** Creates an empty registry. */
export function createShutdownHooks(log: Logger, timeoutMs = 5000): ShutdownHooks {
  const hooks: { name: string; hook: ShutdownHook }[] = [];
  let ran = false;
  return {
    add(name, hook) {
      const entry = { name, hook };
      hooks.push(entry);
      return () => {
        const i = hooks.indexOf(entry);
        if (i >= 0) hooks.splice(i, 1);
      };
    },
    async run() {
      if (ran) return;
      ran = true;
      for (const { name, hook } of hooks.reverse()) {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), timeoutMs);
        });
        try {
          const outcome = await Promise.race([Promise.resolve().then(hook), timeout]);
          if (outcome === 'timeout') log.warn({ hook: name, timeoutMs }, 'shutdown hook timed out; going on');
          else log.debug({ hook: name }, 'shutdown hook done');
        } catch (error) {
          log.error({ err: error, hook: name }, 'shutdown hook failed; going on');
        } finally {
          clearTimeout(timer);
        }
      }
    },
  };
}

/** What {@link drainCalls} needs. */
export interface DrainOptions {
  readonly runtime: Runtime;
  readonly invoke: InvokeOrgan;
  /** Beats to wait for calls in flight at most. */
  readonly beats: number;
  /** The beat driver is running (else no beat will come: what is in flight is given up at once). */
  readonly beating: boolean;
  readonly log: Logger;
}

/** A drain in progress. */
export interface Drain {
  /** Settles when nothing is in flight, or the bound was reached and the rest given up. */
  readonly done: Promise<void>;
  /** Gives up at once (the beat driver failed). */
  end(): void;
}

/**
 * The first step of a graceful stop: the invoke organ stops taking new work, and the peer keeps
 * beating until no call waits for a reply and every admitted call's reply has left — at most
 * `beats` beats (counted at commits, never in ms). Calls still waiting then are cancelled with
 * `INVOKE_CALLER_SHUTDOWN`, so whoever waits on them (an HTTP `POST /invoke`) gets an answer.
 */
export function drainCalls(options: DrainOptions): Drain {
  const { runtime, invoke, log } = options;
  invoke.drain();
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  let over = false;
  let off: (() => void) | undefined;
  const giveUp = (why: string): void => {
    if (over) return;
    over = true;
    off?.();
    if (!invoke.idle()) {
      log.warn({ pending: invoke.pending(), beats: options.beats }, `shutdown drain: ${why}; giving up the calls still waiting`);
      invoke.cancelAll(`cancelled: this peer is shutting down (${why})`, OUTCOME_CODE.callerShutdown);
    }
    finish();
  };
  if (invoke.idle()) {
    over = true;
    finish();
  } else if (!options.beating || options.beats === 0) {
    giveUp(options.beating ? 'drain_beats is 0' : 'no beat driver is running');
  } else {
    let beats = 0;
    // Registered after the organ's own commit hook: replies of this beat have left when it runs.
    off = runtime.onCommit(() => {
      beats += 1;
      if (invoke.idle()) {
        over = true;
        off?.();
        log.info({ beats }, 'shutdown drain: nothing in flight');
        finish();
      } else if (beats >= options.beats) giveUp(`drain_beats (${options.beats}) reached`);
    });
  }
  return { done, end: () => giveUp('the beat driver stopped') };
}
