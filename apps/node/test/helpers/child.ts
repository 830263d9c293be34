import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The app folder (cwd of every child, so `--import tsx` resolves). */
export const APP_DIR = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Runs `cep-node` from source as a real OS process: `node --conditions=@cep/source
 * --import tsx src/cli.ts …` — no build step, the same code the tests import.
 */
export interface CepNodeChild {
  readonly child: ChildProcess;
  readonly stdoutLines: string[];
  stderr(): string;
  /** Resolves with the first JSON log line matching `predicate`. */
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL if still running (cleanup). */
  kill(): Promise<void>;
}

const running = new Set<CepNodeChild>();

/** Kills every child still running; call in afterEach/afterAll. */
export async function killAll(): Promise<void> {
  await Promise.all([...running].map((c) => c.kill()));
}

export function spawnCepNode(args: string[]): CepNodeChild {
  const child = spawn(process.execPath, ['--conditions=@cep/source', '--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: APP_DIR,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  const stdoutLines: string[] = [];
  let stderr = '';
  let partial = '';
  const waiters: { predicate: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  const parsed: Record<string, unknown>[] = [];
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    partial += chunk;
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      stdoutLines.push(line);
      try {
        const obj = JSON.parse(line) as Record<string, unknown>;
        parsed.push(obj);
        for (const w of [...waiters]) {
          if (w.predicate(obj)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(obj);
          }
        }
      } catch {
        // not a log line
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  const handle: CepNodeChild = {
    child,
    stdoutLines,
    stderr: () => stderr,
    waitForLog(predicate, timeoutMs = 15_000) {
      const found = parsed.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no matching log line within ${timeoutMs} ms; stdout:\n${stdoutLines.join('\n')}\nstderr:\n${stderr}`)),
          timeoutMs,
        );
        waiters.push({ predicate, resolve: (l) => (clearTimeout(timer), resolve(l)) });
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`cep-node exited before the log line; stdout:\n${stdoutLines.join('\n')}\nstderr:\n${stderr}`));
        });
      });
    },
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      running.delete(handle);
    },
  };
  running.add(handle);
  void exited.then(() => running.delete(handle));
  return handle;
}
