// The remote end for tcp.child.test.ts: a saturn peer in its own process that echoes frames.
import { tcp } from '../src/index.ts';

const key = Buffer.from(process.env['CEP_TEST_KEY'] ?? '', 'hex');
const saturn = tcp({ localPeer: 'saturn', keys: { earth: key } });
const listener = await saturn.listen!({ address: '127.0.0.1:0' }, (channel) => {
  void (async () => {
    for await (const frame of channel.frames()) channel.send(frame);
  })();
});
process.stdout.write(`${listener.address}\n`);
