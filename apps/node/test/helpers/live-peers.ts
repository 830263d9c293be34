import { afterEach } from 'vitest';
import { validateConfig } from '../../src/config/load.ts';
import { loadHandlers } from '../../src/handlers.ts';
import { createLogger } from '../../src/log.ts';
import { startPeer, type Peer } from '../../src/peer.ts';
import { logSink } from './io.ts';

/**
 * Whole peers in this process (real config, handlers, transport and HTTP), stopped after each
 * test. Call once at a test file's top level: it registers the `afterEach` that stops them.
 * `dir` is where the configs' relative paths (handler modules) resolve.
 */
export function livePeers(dir: string) {
  const peers: Peer[] = [];
  afterEach(async () => {
    await Promise.all(peers.splice(0).map((p) => p.stop('test over')));
  });

  /** Starts a peer from a config document (`enclave: lab`, HTTP on a free port unless `doc` says otherwise). */
  async function start(doc: Record<string, unknown>, manualBeats: boolean): Promise<Peer> {
    const config = validateConfig({ enclave: 'lab', http: { port: 0 }, ...doc }, 'peer.yaml', dir);
    const handlers = await loadHandlers(config, 'peer.yaml');
    const peer = await startPeer({ config, log: createLogger({ level: 'warn', destination: logSink().destination, isTTY: false }), handlers, manualBeats });
    peers.push(peer);
    return peer;
  }

  /** Waits until `check` holds; bounded by the test's own timeout (it waits on the condition, not on a duration). */
  async function until(check: () => boolean, what: string): Promise<void> {
    while (!check()) {
      if (peers.length === 0) throw new Error(`gave up waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  return { start, until };
}
