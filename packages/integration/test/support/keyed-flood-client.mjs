// A hostile but authenticated peer, run as its own process: holds the right key as `luna`,
// opens `mounts` channels to saturn over TCP and pushes junk frames of `frameBytes` on each as
// fast as the channel takes them (waiting for `ready` after `backpressure`, as any sender must)
// for `ms` milliseconds. The frames pass the record layer (it is keyed) and are refused when
// saturn decodes them.
//
//   node keyed-flood-client.mjs <host:port> <key hex> <ms> [frameBytes] [mounts]
//
// Runs the built @cep/provider-tcp. Prints one JSON line when flooding starts
// ({"flooding":true}) and one when it stops ({"done":true,"frames":n,"bytes":n}), then exits 0.
import { randomBytes } from 'node:crypto';
import { tcp } from '@cep/provider-tcp';

const [address, keyHex, msText, frameText, mountsText] = process.argv.slice(2);
const ms = Number(msText);
const frameBytes = Number(frameText ?? 1 << 20);
const mounts = Number(mountsText ?? 1);
if (address === undefined || !/^[0-9a-f]{64}$/.test(keyHex ?? '') || !(ms > 0) || !(frameBytes > 0) || !(mounts > 0)) {
  process.stderr.write('usage: keyed-flood-client.mjs <host:port> <key hex> <ms> [frameBytes] [mounts]\n');
  process.exit(2);
}
const provider = tcp({ localPeer: 'luna', keys: { saturn: Buffer.from(keyHex, 'hex') } });
const junk = randomBytes(frameBytes);
const until = Date.now() + ms;
let frames = 0;
let bytes = 0;

async function flood(mount) {
  while (Date.now() < until) {
    let channel;
    try {
      channel = await provider.open({ peer: 'saturn', mode: 'link', mount, localNode: 'luna', address });
    } catch {
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    let wake;
    let closed = false;
    channel.onEvent((event) => {
      if (event.type === 'closed' || event.type === 'fatal') closed = true;
      if (event.type === 'ready' || closed) wake?.();
    });
    while (!closed && Date.now() < until) {
      let answer;
      try {
        answer = channel.send(junk);
      } catch {
        break;
      }
      frames += 1;
      bytes += junk.length;
      if (answer === 'backpressure') {
        // Wait for ready; look again every 200 ms so the flood ends on time.
        await new Promise((r) => {
          wake = r;
          setTimeout(r, 200);
        });
        wake = undefined;
      }
    }
    await channel.close('flood over').catch(() => undefined);
  }
}

process.stdout.write(`${JSON.stringify({ flooding: true })}\n`);
const names = Array.from({ length: mounts }, (_, i) => `junk${'abcdefghijklmnopqrstuvwxyz'[i % 26]}`);
await Promise.all(names.map((mount) => flood(mount)));
process.stdout.write(`${JSON.stringify({ done: true, frames, bytes })}\n`);
await provider.close();
process.exit(0);
