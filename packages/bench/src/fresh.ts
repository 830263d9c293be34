/**
 * Runs one measured run in an OS process of its own, so what one contender leaves behind (JIT
 * state, inline caches, WebAssembly memory, a grown heap) cannot speed up or slow down the next.
 * Rows a and c measured ours and their anchors in one process and the anchors' times moved with
 * whichever code had run before them (msgpackr's round trip read 27 µs after one build of ours
 * and 35 µs after another); a fresh process per run takes that out of the ratio.
 *
 * The child (fresh-child.ts) imports `module`, awaits `fn(...args)` and sends the result back;
 * values cross with the structured clone, so byte arrays keep their type.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./fresh-child.ts', import.meta.url));

/** A run's request to the child. */
export interface FreshRun {
  readonly module: string;
  readonly fn: string;
  readonly args: readonly unknown[];
}

/** The child's answer: the run's result, or why it failed. */
export type FreshAnswer = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: string };

/** `fn(...args)` of `module` (a file URL) in a new process with this one's loader flags; its result. */
export function inFreshProcess<T>(module: URL, fn: string, ...args: unknown[]): Promise<T> {
  const child = fork(CHILD, [], { execArgv: process.execArgv, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise<T>((resolve, reject) => {
    let answered = false;
    child.once('message', (answer: FreshAnswer) => {
      answered = true;
      if (answer.ok) resolve(answer.value as T);
      else reject(new Error(`${fn} in a fresh process: ${answer.error}`));
    });
    child.once('exit', (code) => {
      if (!answered) reject(new Error(`${fn} in a fresh process: exited with ${code} before answering`));
    });
    child.send({ module: module.href, fn, args } satisfies FreshRun);
  });
}
