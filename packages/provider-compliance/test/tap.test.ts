import { createSocket } from 'node:dgram';
import { connect, createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { datagramTap, streamTap } from '../src/tap.ts';
import { until } from '../src/helpers.ts';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanups.splice(0).reverse()) await step();
});

const text = (bytes: Uint8Array[]): string[] => bytes.map((b) => Buffer.from(b).toString());

describe('streamTap', () => {
  it('forwards, captures, holds back and re-injects what the dialer sends', async () => {
    let received = '';
    const server = createServer((s) => s.on('data', (chunk) => (received += chunk.toString())));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    const tap = await streamTap(`127.0.0.1:${(server.address() as { port: number }).port}`, '127.0.0.1:0');
    cleanups.push(() => tap.close());
    const [host, port] = tap.address.split(':');
    const client: Socket = connect({ host: host!, port: Number(port) });
    cleanups.push(async () => client.destroy());
    client.write('a');
    await until(1000, 'a', () => received === 'a');
    expect(tap.take()).toEqual([]); // plain forwarding keeps nothing
    tap.capture();
    client.write('b');
    await until(1000, 'b', () => received === 'ab');
    expect(text(tap.take())).toEqual(['b']);
    tap.hold();
    client.write('c');
    let held: Uint8Array[] = [];
    await until(1000, 'c held', () => (held = tap.take()).length > 0);
    expect(text(held)).toEqual(['c']);
    expect(received).toBe('ab');
    tap.pass();
    tap.inject(Buffer.from('b'));
    client.write('d');
    await until(1000, 'the injected b, then d', () => received === 'abbd');
  });
});

describe('datagramTap', () => {
  it('keeps each datagram apart, relays answers back, and re-injects', async () => {
    const server = createSocket('udp4');
    const got: string[] = [];
    server.on('message', (m, from) => {
      got.push(m.toString());
      server.send(`ack ${m.toString()}`, from.port, from.address);
    });
    await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const tap = await datagramTap(`127.0.0.1:${server.address().port}`);
    cleanups.push(() => tap.close());
    const client = createSocket('udp4');
    const answers: string[] = [];
    client.on('message', (m) => answers.push(m.toString()));
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => client.close(() => r())));
    const port = Number(tap.address.split(':')[1]);
    tap.hold();
    client.send('one', port, '127.0.0.1');
    client.send('two', port, '127.0.0.1');
    const held: Uint8Array[] = [];
    await until(1000, 'two datagrams held', () => (held.push(...tap.take()), held.length === 2));
    expect(text(held)).toEqual(['one', 'two']);
    expect(got).toEqual([]);
    tap.pass();
    for (const d of [...held].reverse()) tap.inject(d);
    await until(1000, 'both, reordered, and their answers', () => got.length === 2 && answers.length === 2);
    expect(got).toEqual(['two', 'one']);
    expect(answers.sort()).toEqual(['ack one', 'ack two']);
  });
});
