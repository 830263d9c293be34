/** What both ends of a new channel share. */
export interface ChannelBasics {
  /** The peer name of the other end. */
  readonly peer: string;
  readonly mode: string;
  readonly mount: string;
  readonly initiator: boolean;
  readonly remoteAddress: string;
  readonly maxFrameBytes: number;
  readonly sessionId: string;
  /** The far provider instance's session (none for a channel with no remote side). */
  readonly remoteSession?: string;
  /** Schedule key of this end's outbound direction. */
  readonly scheduleKey: string;
  /** True for an end with no remote side (its sends are always captured). */
  readonly loose: boolean;
}
