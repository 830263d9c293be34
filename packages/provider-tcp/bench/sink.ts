// The receiving process for the two-process rows of bench/run.ts. It listens with
// provider-tcp and with a plain node:net server. CEP_BENCH_PLAN lists, in order, how
// many frames each accepted channel must receive and how many bytes each plain socket
// must receive; it prints "done" each time one has.
import { createServer, type AddressInfo } from 'node:net';
import { tcp } from '../src/index.ts';

const key = Buffer.from(process.env['CEP_BENCH_KEY'] ?? '', 'hex');
const plan = JSON.parse(process.env['CEP_BENCH_PLAN'] ?? '{"frames":[],"bytes":[]}') as { frames: number[]; bytes: number[] };

const saturn = tcp({ localPeer: 'saturn', keys: { earth: key } });
const listener = await saturn.listen!({ address: '127.0.0.1:0' }, (channel) => {
  const want = plan.frames.shift() ?? 0;
  void (async () => {
    let n = 0;
    for await (const _frame of channel.frames()) {
      if (++n === want) process.stdout.write('done\n');
    }
  })();
});
const plain = createServer((socket) => {
  const want = plan.bytes.shift() ?? 0;
  let got = 0;
  socket.on('data', (chunk: Buffer) => {
    const before = got;
    got += chunk.length;
    if (before < want && got >= want) process.stdout.write('done\n');
  });
  socket.on('error', () => {});
});
await new Promise<void>((r) => plain.listen(0, '127.0.0.1', () => r()));
process.stdout.write(`${listener.address} 127.0.0.1:${(plain.address() as AddressInfo).port}\n`);
process.on('disconnect', () => process.exit(0));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
