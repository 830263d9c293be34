/** A CEP transport provider over UDP (node:dgram) for upd_latest gauges. */
export { udp, UDP_CAPS } from './udp.ts';
export { type UdpOptions, type UdpRejectInfo, MAX_UDP_FRAME_BYTES } from './options.ts';
export type { UdpIdentity } from './identity.ts';
export type { UdpErrorCode } from './errors.ts';
