/**
 * Row b: a mirror of an N-cell branch between two OS processes (AEAD off, then on), next to
 * msgpackr pack → loopback socket → unpack of the same data between two OS processes; and
 * the receiver's heap peak next to what the mirrored tree retains after a full GC.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { MirrorCommand, MirrorReport } from './mirror-peer.ts';

const PEER = fileURLToPath(new URL('./mirror-peer.ts', import.meta.url));

interface Child {
  readonly process: ChildProcess;
  next<K extends MirrorReport['kind']>(kind: K): Promise<Extract<MirrorReport, { kind: K }>>;
}

/** Forks mirror-peer.ts with this process's loader (tsx, source condition) and `--expose-gc`. */
function forkPeer(cmd: MirrorCommand): Child {
  const execArgv = [...new Set([...process.execArgv, '--expose-gc'])];
  const child = fork(PEER, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`mirror bench child (${cmd.role}) exited with ${code}`))));
  exited.catch(() => {});
  child.send(cmd);
  return {
    process: child,
    next: (kind) =>
      Promise.race([
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`mirror bench: no ${kind} from ${cmd.role} in 300 s`)), 300_000).unref()),
        exited,
        new Promise<Extract<MirrorReport, { kind: typeof kind }>>((resolve) => {
          const on = (m: MirrorReport) => {
            if (m.kind === kind) {
              child.off('message', on);
              resolve(m as Extract<MirrorReport, { kind: typeof kind }>);
            }
          };
          child.on('message', on);
        }),
      ]),
  };
}

/**
 * Ends the children: SIGTERM first, so a child run under `--cpu-prof` (the flag is passed on to
 * it) exits normally and writes its profile; SIGKILL if it has not gone within 2 s.
 */
function stop(...children: Child[]): Promise<void> {
  return Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.process.exitCode !== null || c.process.signalCode !== null) return resolve();
          const kill = setTimeout(() => c.process.kill('SIGKILL'), 2000);
          c.process.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          c.process.kill('SIGTERM');
        }),
    ),
  ).then(() => {});
}

/** What one mirror run measured in the receiver, and the source's CPU over it. */
export type MirrorRun = Extract<MirrorReport, { kind: 'received' }> & { readonly sourceCpuMs: number };

/** One mirror of `cells` cells between two fresh processes. */
export async function mirrorOnce(cells: number, aead: boolean, beatMs: number): Promise<MirrorRun> {
  const key = randomBytes(32).toString('hex');
  const source = forkPeer({ role: 'source', cells, aead, beatMs, key });
  let receiver: Child | undefined;
  try {
    const ready = await source.next('source-ready');
    receiver = forkPeer({ role: 'receiver', cells, aead, beatMs, key, address: ready.address, digest: ready.digest });
    const run = await receiver.next('received');
    if (run.cells !== cells) throw new Error(`mirror bench: the receiver has ${run.cells} cells, expected ${cells}`);
    const cpu = source.next('source-cpu');
    source.process.send({ role: 'cpu' });
    return { ...run, sourceCpuMs: (await cpu).cpuMs };
  } finally {
    await stop(source, ...(receiver ? [receiver] : []));
  }
}

/** One msgpackr pack → socket → unpack of the same data between two fresh processes; ms. */
export async function anchorOnce(cells: number): Promise<number> {
  const source = forkPeer({ role: 'anchor-source', cells });
  let receiver: Child | undefined;
  try {
    const ready = await source.next('anchor-ready');
    receiver = forkPeer({ role: 'anchor-receiver', cells, address: ready.address });
    const run = await receiver.next('anchor-received');
    if (run.cells !== cells) throw new Error(`mirror bench anchor: unpacked ${run.cells} cells, expected ${cells}`);
    return run.ms;
  } finally {
    await stop(source, ...(receiver ? [receiver] : []));
  }
}
