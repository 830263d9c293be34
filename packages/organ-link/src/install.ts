/**
 * `installLink`: the link organ (SPEC §7). A request under `/net/organs/link/requests/<id>/`
 * becomes a mount; its `state` says `pending`, `active`, `error` or `removed`.
 */
import type { Runtime } from '@cep/heartbeat';
import { TOPIC, type MountSpec, type TransportManager } from '@cep/transport';
import { installMountOrgan, type MountOrgan, type MountRequestEntry } from './mount-organ.ts';
import type { RetryOptions } from './retry.ts';

/** The link organ's kind: requests live under `/net/organs/link/requests`. */
export const LINK_KIND = 'link';

/** Caps a link requires when its request lists none (and is not an `upd_latest` gauge link). */
export const LINK_DEFAULT_REQUIRED: readonly string[] = Object.freeze(['ordered', 'reliable']);

/** Options of {@link installLink}. */
export interface LinkOptions {
  /** Called after a request's state changes because of its mount (open, error, fatal, closed). */
  readonly onMountEvent?: (entry: MountRequestEntry, type: 'open' | 'error' | 'fatal' | 'closed') => void;
  /**
   * Redial a link whose mount broke (open failed, fatal, closed): after `first` beats, doubling up
   * to `max`, at most `limit` times (defaults 8, 512, no limit). `false`: it stays in `error`.
   */
  readonly retry?: RetryOptions | false;
}

/** An installed link organ. */
export type LinkOrgan = MountOrgan;

/**
 * Installs the link organ on `runtime`: link requests become mounts of `manager`. A request
 * that lists no required caps gets `reliable` + `ordered` (as the reference does), unless it
 * asks for `caps/upd_latest`, which only unreliable providers serve.
 */
export function installLink(runtime: Runtime, manager: TransportManager, options: LinkOptions = {}): LinkOrgan {
  return installMountOrgan(runtime, manager, {
    kind: LINK_KIND,
    defaultMode: 'link',
    topics: { schema: TOPIC.schema, conflict: TOPIC.mountConflict, deadline: TOPIC.mountTimeout },
    ...(options.retry !== undefined ? { retry: options.retry } : {}),
    shape: (spec: MountSpec): MountSpec => {
      const required = spec.caps?.required ?? [];
      if (required.length > 0 || spec.caps?.updLatest === true) return spec;
      return { ...spec, caps: { ...spec.caps, required: [...LINK_DEFAULT_REQUIRED] } };
    },
    ...(options.onMountEvent !== undefined
      ? { onMountEvent: (entry, event) => event.type !== 'accepted' && event.type !== 'session' && options.onMountEvent!(entry, event.type) }
      : {}),
  });
}
