/**
 * Wiring point for the organs (link, mirror, invoke).
 *
 * Not wired yet — the organ packages are being written. When they land,
 * {@link wireOrgans}:
 *   1. registers each organ with `ctx.runtime.registerOrgan(...)` (BEFORE the
 *      requests below are written, so their validators see them created);
 *   2. registers each `ctx.handlers` entry with the invoke organ as the handler of
 *      its name (`handler.run(call)` inside a beat);
 *   3. writes the config's requests (`writeRequests`, already done below);
 *   4. registers a shutdown hook that flushes acknowledged mirror bundles and
 *      closes every mount (`reason=shutdown`).
 */
import type { PeerContext } from './context.ts';
import { writeRequests } from './requests.ts';

/** What the organ wiring reports back. */
export interface OrgansHandle {
  /** False until the organs are wired in. */
  readonly wired: boolean;
  readonly requests: { readonly link: number; readonly mirror: number };
}

/** Registers the organs and writes the config's link and mirror requests into the tree. */
export async function wireOrgans(ctx: PeerContext): Promise<OrgansHandle> {
  const requests = writeRequests(ctx.runtime.tree, ctx.config);
  if (ctx.config.mirrors.length > 0 || ctx.handlers.length > 0 || ctx.config.peers.length > 0) {
    ctx.log.warn(
      { linkRequests: requests.link, mirrorRequests: requests.mirror, handlers: ctx.handlers.map((h) => h.name) },
      'organs not wired in this build yet: requests are written under /net/organs but nothing serves them; invoke handlers are loaded but not exposed',
    );
  }
  return { wired: false, requests };
}
