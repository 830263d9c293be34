import { describe, expect, it } from 'vitest';
import { HandshakeLink, LISTENER_MAX_RESENDS, RESEND_MS } from '../src/handshake-link.ts';

function wired(maxResends?: number) {
  const chunks: Array<[number, string]> = [];
  const acks: number[] = [];
  const link = new HandshakeLink({ chunk: (seq, bytes) => chunks.push([seq, bytes.toString()]), ack: (seq) => acks.push(seq) }, maxResends);
  const read: string[] = [];
  link.on('data', (b: Buffer) => read.push(b.toString()));
  return { link, chunks, acks, read };
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('handshake link', () => {
  it('hands chunks on in order and once, acknowledging every copy', async () => {
    const { link, acks, read } = wired();
    link.receive(1, Buffer.from('b'));
    link.receive(0, Buffer.from('a'));
    link.receive(1, Buffer.from('b'));
    link.receive(0, Buffer.from('a'));
    link.receive(2, Buffer.from('c'));
    await tick(0);
    expect(read).toEqual(['a', 'b', 'c']);
    expect(acks).toEqual([1, 0, 1, 0, 2]);
    link.dispose();
  });

  it('resends an unacknowledged chunk until it is acknowledged, and no more', async () => {
    const { link, chunks } = wired();
    link.write(Buffer.from('hello'));
    await tick(RESEND_MS * 3.5);
    const sent = chunks.length;
    expect(sent).toBeGreaterThan(1);
    expect(chunks.every(([seq, text]) => seq === 0 && text === 'hello')).toBe(true);
    link.acknowledged(0);
    await tick(RESEND_MS * 2.5);
    expect(chunks.length).toBe(sent);
    link.dispose();
  });

  it('gives a chunk up after its resend budget (a listener answering an unverified source)', async () => {
    const { link, chunks } = wired(LISTENER_MAX_RESENDS);
    link.write(Buffer.from('choice'));
    await tick(RESEND_MS * (LISTENER_MAX_RESENDS + 4));
    expect(chunks).toHaveLength(1 + LISTENER_MAX_RESENDS);
    link.dispose();
  });
});
