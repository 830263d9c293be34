/**
 * Shutdown hooks: what the organs and the transport register to run when the peer
 * stops (flush acknowledged bundles, close mounts, close listeners). They run once,
 * newest first (a part registered later depends on those before it), each bounded
 * by a timeout so one stuck hook cannot keep the process alive.
 */
import type { Logger } from 'pino';

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
