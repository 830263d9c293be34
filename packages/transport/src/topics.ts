/**
 * The CEI topics of the transport layer (SPEC §6). Organs emit the invoke, mirror and
 * security ones; the manager emits the rest. Each is also mirrored, latest per topic,
 * to `/net/peers/<peer>/ceh/<topic>` when a peer is involved.
 */
export const TOPIC = Object.freeze({
  /** No provider satisfies a mount's required caps. */
  noProvider: 'tp_noprov',
  /** A record in the tree (mount config, telemetry, service) has missing fields or wrong types, or an inbound frame was refused. */
  schema: 'tp_schema',
  /** The provider catalog changed; mounts waiting for a provider were renegotiated. */
  catalogSync: 'tp_catsync',
  /** A serializer feature the mount allows was turned off because its provider lacks it. */
  flatNegotiation: 'tp_flatneg',
  /**
   * A keyed mount refused to run in plaintext: its provider lacks the `aead` cap, or a
   * plaintext frame arrived on it (only a peer configured `aead: optional` may downgrade).
   */
  aeadRequired: 'tp_aead_req',
  /** A mount's channel asked the sender to wait. */
  backpressure: 'tp_backpr',
  /** A frame could not be handed to the channel. */
  sendFailed: 'tp_sendfail',
  /** A channel failed for good (or a peer was refused at the door). */
  fatal: 'tp_fatal',
  /** A droppable gauge was refused by a mount that opted out of dropping. */
  updDenied: 'tp_upd_den',
  /** A droppable gauge was sent on a reliable mount (it is delivered, not dropped). */
  updMismatch: 'tp_upd_mis',
  /** A resource bound refused something (a mount beyond `maxMountsPerPeer`). */
  limitHit: 'tp_limit',
  /** The remote peer of a mount came back as a new session (it restarted); organs resubscribe. */
  newSession: 'tp_newsess',
  mountConflict: 'tp_mconf',
  mountTimeout: 'tp_mtimeout',
  invokeTimeout: 'tp_inv_timeout',
  invokeReject: 'tp_inv_reject',
} as const);

/** One of the transport topics. */
export type TransportTopic = (typeof TOPIC)[keyof typeof TOPIC];
