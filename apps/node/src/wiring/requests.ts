/**
 * Turns the config's `peers` and `mirrors` into organ requests in the tree, the
 * schema-first way (SPEC §7): the link and mirror organs serve whatever requests
 * they find, whoever wrote them. Field names follow SPEC §7; if an organ's README
 * says otherwise once it lands, it wins and this file follows.
 */
import { text, u64, type Tree } from '@cep/cells';
import { organStore } from '@cep/heartbeat';
import type { PeerConfig } from '../config/schema.ts';

/** Writes `/net/organs/link/requests/<n>` per peer and `/net/organs/mirror/requests/<n>` per mirror, in one batch. */
export function writeRequests(tree: Tree, config: PeerConfig): { link: number; mirror: number } {
  tree.batch(() => {
    if (config.peers.length > 0) tree.ensureDictionary('/net/organs/link/requests', organStore('link'));
    config.peers.forEach((peer, i) => {
      const base = `/net/organs/link/requests/${i + 1}`;
      tree.set(`${base}/peer`, text(peer.name));
      tree.set(`${base}/mount`, text(peer.mount));
      tree.set(`${base}/mode`, text('link'));
      tree.set(`${base}/local_node`, text(config.peer));
      tree.set(`${base}/pref_prov`, text(peer.provider));
    });
    if (config.mirrors.length > 0) tree.ensureDictionary('/net/organs/mirror/requests', organStore('mirror'));
    config.mirrors.forEach((mirror, i) => {
      const base = `/net/organs/mirror/requests/${i + 1}`;
      tree.set(`${base}/peer`, text(mirror.source.peer));
      tree.set(`${base}/mount`, text(mirror.name));
      tree.set(`${base}/mode`, text('mirror'));
      tree.set(`${base}/local_node`, text(config.peer));
      tree.set(`${base}/src_peer`, text(mirror.source.peer));
      tree.set(`${base}/src_chan`, text(mirror.source.path));
      tree.set(`${base}/target`, text(mirror.target));
      tree.set(`${base}/bundle/beat_window`, u64(mirror.bundle.beat_window));
      tree.set(`${base}/bundle/max_infl`, u64(mirror.bundle.max_infl));
      tree.set(`${base}/bundle/commit_mode`, text(mirror.bundle.commit_mode));
      if (mirror.bundle.resume_tok !== undefined) tree.set(`${base}/bundle/resume_tok`, text(mirror.bundle.resume_tok));
    });
  });
  return { link: config.peers.length, mirror: config.mirrors.length };
}
