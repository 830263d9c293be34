/**
 * Turns the config's `peers` and `mirrors` into organ requests in the tree, the
 * schema-first way (SPEC §7): the link and mirror organs serve whatever requests
 * they find, whoever wrote them. Field names follow SPEC §7; if an organ's README
 * says otherwise once it lands, it wins and this file follows.
 */
import { text, u64, type Tree } from '@cep/cells';
import { organStore } from '@cep/heartbeat';
import type { PeerConfig } from '../config/schema.ts';

/** The request name of `peers[index]`'s link request and of `mirrors[index]`'s mirror request (1-based). */
export function requestId(index: number): string {
  return String(index + 1);
}

/** The mount every peer's invoke request uses (one per peer; the link mount stays free for link traffic). */
export const INVOKE_MOUNT = 'invoke';

/**
 * Writes, in one batch: `/net/organs/link/requests/<n>` per peer, `/net/organs/invoke/requests/<peer>`
 * per peer (so this peer can invoke that peer's handlers), and `/net/organs/mirror/requests/<n>` per mirror.
 */
export function writeRequests(tree: Tree, config: PeerConfig): { link: number; mirror: number; invoke: number } {
  tree.batch(() => {
    if (config.peers.length > 0) tree.ensureDictionary('/net/organs/link/requests', organStore('link'));
    config.peers.forEach((peer, i) => {
      const base = `/net/organs/link/requests/${requestId(i)}`;
      tree.set(`${base}/peer`, text(peer.name));
      tree.set(`${base}/mount`, text(peer.mount));
      tree.set(`${base}/mode`, text('link'));
      tree.set(`${base}/local_node`, text(config.peer));
      tree.set(`${base}/pref_prov`, text(peer.provider));
    });
    if (config.peers.length > 0) tree.ensureDictionary('/net/organs/invoke/requests', organStore('invoke'));
    for (const peer of config.peers) {
      const base = `/net/organs/invoke/requests/${peer.name}`;
      tree.set(`${base}/peer`, text(peer.name));
      tree.set(`${base}/mount`, text(INVOKE_MOUNT));
      tree.set(`${base}/mode`, text('invoke'));
      tree.set(`${base}/local_node`, text(config.peer));
      tree.set(`${base}/pref_prov`, text(peer.provider));
    }
    if (config.mirrors.length > 0) tree.ensureDictionary('/net/organs/mirror/requests', organStore('mirror'));
    config.mirrors.forEach((mirror, i) => {
      const base = `/net/organs/mirror/requests/${requestId(i)}`;
      tree.set(`${base}/peer`, text(mirror.source.peer));
      tree.set(`${base}/mount`, text(mirror.name));
      tree.set(`${base}/mode`, text('mirror'));
      tree.set(`${base}/local_node`, text(config.peer));
      // The provider the config reaches that peer with (negotiation alone could pick one with no address for it).
      const via = config.peers.find((p) => p.name === mirror.source.peer);
      if (via !== undefined) tree.set(`${base}/pref_prov`, text(via.provider));
      tree.set(`${base}/src_peer`, text(mirror.source.peer));
      tree.set(`${base}/src_chan`, text(mirror.source.path));
      tree.set(`${base}/dst_chan`, text(mirror.target));
      tree.set(`${base}/bundle/beat_window`, u64(mirror.bundle.beat_window));
      tree.set(`${base}/bundle/max_infl`, u64(mirror.bundle.max_infl));
      tree.set(`${base}/bundle/commit_mode`, text(mirror.bundle.commit_mode));
      if (mirror.bundle.resume_tok !== undefined) tree.set(`${base}/bundle/resume_tok`, text(mirror.bundle.resume_tok));
    });
  });
  return { link: config.peers.length, mirror: config.mirrors.length, invoke: config.peers.length };
}
