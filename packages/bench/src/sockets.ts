/**
 * Plain loopback sockets for the anchors: a connected pair and a length-prefixed frame
 * splitter (4-byte big-endian length, then the frame), the least a receiver must do to get
 * frames back out of a TCP byte stream.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

/** A connected client/server socket pair on 127.0.0.1 (Nagle off on both ends). */
export async function socketPair(): Promise<{ client: Socket; server: Socket; close(): Promise<void> }> {
  let accept!: (s: Socket) => void;
  const accepted = new Promise<Socket>((resolve) => (accept = resolve));
  const listener = createServer((s) => accept(s));
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', () => resolve()));
  const client = connect({ host: '127.0.0.1', port: (listener.address() as AddressInfo).port });
  await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  const server = await accepted;
  client.setNoDelay(true);
  server.setNoDelay(true);
  return {
    client,
    server,
    close: async () => {
      client.destroy();
      server.destroy();
      await new Promise((resolve) => listener.close(resolve));
    },
  };
}

/** `frame` with its 4-byte big-endian length in front. */
export function lengthPrefixed(frame: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + frame.length);
  out.writeUInt32BE(frame.length, 0);
  out.set(frame, 4);
  return out;
}

/**
 * Feeds stream chunks in and calls `onFrame` with each complete frame (a view, or a copy
 * when the frame straddled chunks): what a framed protocol's receiver does at minimum.
 */
export function frameSplitter(onFrame: (frame: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer | null = null;
  return (chunk) => {
    let buf = pending === null ? chunk : Buffer.concat([pending, chunk]);
    pending = null;
    let at = 0;
    while (buf.length - at >= 4) {
      const length = buf.readUInt32BE(at);
      if (buf.length - at - 4 < length) break;
      onFrame(buf.subarray(at + 4, at + 4 + length));
      at += 4 + length;
    }
    if (at < buf.length) pending = buf.subarray(at);
    buf = Buffer.alloc(0);
  };
}
