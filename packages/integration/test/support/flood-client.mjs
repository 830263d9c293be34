// A hostile client, run as its own process: keeps `width` unauthenticated connections open at
// a listener for `ms` milliseconds, reopening each one as soon as the listener drops it. Every
// other connection is silent; the rest write a byte of garbage (a handshake length and the
// start of an HTTP request) and then say nothing more, so they are refused as soon as read.
//
//   node flood-client.mjs <tcp|pipe> <host:port | socket path> <ms> [width]
//
// Prints one JSON line when flooding starts ({"flooding":true}) and one when it stops
// ({"done":true,"opened":n,"refused":n}), then exits 0.
import { connect } from 'node:net';

const [via, address, msText, widthText] = process.argv.slice(2);
const ms = Number(msText);
const width = Number(widthText ?? 256);
if ((via !== 'tcp' && via !== 'pipe') || address === undefined || !(ms > 0) || !(width > 0)) {
  process.stderr.write('usage: flood-client.mjs <tcp|pipe> <address> <ms> [width]\n');
  process.exit(2);
}
const target =
  via === 'tcp' ? { host: address.slice(0, address.lastIndexOf(':')), port: Number(address.slice(address.lastIndexOf(':') + 1)) } : { path: address };
const GARBAGE = Buffer.from([0x00, 0x20, 0x47, 0x45, 0x54, 0x20, 0x2f]);

let opened = 0;
let refused = 0;
let live = 0;
let flooding = true;
const sockets = new Set();

function open() {
  if (!flooding) return;
  const socket = connect(target);
  const garbage = opened % 2 === 1;
  opened += 1;
  live += 1;
  sockets.add(socket);
  socket.on('error', () => {});
  socket.on('connect', () => {
    if (garbage) socket.write(GARBAGE);
  });
  socket.on('close', () => {
    live -= 1;
    refused += 1;
    sockets.delete(socket);
    // Reopen at once, from a fresh tick, so the flood never lets up.
    setImmediate(open);
  });
}

for (let i = 0; i < width; i++) open();
process.stdout.write(JSON.stringify({ flooding: true, width }) + '\n');
setTimeout(() => {
  flooding = false;
  for (const socket of sockets) socket.destroy();
  process.stdout.write(JSON.stringify({ done: true, opened, refused, live }) + '\n', () => process.exit(0));
}, ms);
