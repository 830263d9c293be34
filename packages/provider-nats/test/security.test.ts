import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { CepError, type ChannelV1, type RejectionV1 } from '@cep/provider-spec';
import { nats, type NatsRejectInfo } from '../src/index.ts';
import { channelSubjects } from '../src/subjects.ts';
import { startNatsServer, type NatsServer } from '../src/testing.ts';
import { collect, connectedPair, str, text, until } from './helpers.ts';

let server: NatsServer;
let operator: NatsConnection;
beforeAll(async () => {
  server = await startNatsServer();
  // Stands for the NATS operator (or any client allowed on the subjects): sees and writes every message.
  operator = await connect({ servers: server.url });
});
afterAll(async () => {
  await operator?.close();
  await server?.stop();
});

function subjectsOf(channel: ChannelV1, prefix: string) {
  return channelSubjects(prefix, channel.info.mode, channel.info.mount, channel.info.sessionId!);
}

describe('peer authentication over NATS', () => {
  it('refuses a message injected on the channel subject: no frame delivered, AUTH_FAILED reported, the channel keeps working', async () => {
    const refused: NatsRejectInfo[] = [];
    const p = await connectedPair(server.url, { saturn: { onReject: (info) => refused.push(info) } });
    try {
      const got = collect(p.remote);
      const { toListener } = subjectsOf(p.local, p.prefix);
      // Garbage, and a well-formed FRAMES record with seq 1 whose tag is made up.
      operator.publish(toListener, text('hello from the operator'));
      const forged = Buffer.alloc(9 + 4 + 6 + 16);
      forged[0] = 1;
      forged.writeUInt32BE(1, 5);
      forged.writeUInt32BE(6, 9);
      forged.write('forged', 13);
      operator.publish(toListener, forged);
      await operator.flush();
      await until('two refusals', () => refused.length >= 2);
      p.local.send(text('genuine'));
      await until('the genuine frame', () => got.length === 1);
      expect(got.map(str)).toEqual(['genuine']);
      expect(refused.map((r) => r.code)).toEqual(['AUTH_FAILED', 'AUTH_FAILED']);
      expect(refused[0]!.subject).toBe(toListener);
    } finally {
      await p.close();
    }
  });

  it('drops a captured record replayed on the subject: each frame is delivered once', async () => {
    const p = await connectedPair(server.url);
    try {
      const { toListener } = subjectsOf(p.local, p.prefix);
      const captured: Uint8Array[] = [];
      const tap = operator.subscribe(toListener, { callback: (_e, msg) => void captured.push(Uint8Array.from(msg.data)) });
      await operator.flush();
      const got = collect(p.remote);
      p.local.send(text('pay 10'));
      await until('the frame and its capture', () => got.length === 1 && captured.length >= 1);
      for (const record of captured) operator.publish(toListener, record);
      await operator.flush();
      p.local.send(text('after'));
      await until('the second frame', () => got.length >= 2);
      await operator.flush();
      expect(got.map(str)).toEqual(['pay 10', 'after']);
      tap.unsubscribe();
    } finally {
      await p.close();
    }
  });

  it('refuses a dialer holding the wrong key: AUTH_FAILED on both sides, no channel accepted', async () => {
    const rejections: RejectionV1[] = [];
    const saturn = nats({ localPeer: 'saturn', keys: { earth: randomBytes(32) }, servers: server.url });
    const earth = nats({ localPeer: 'earth', keys: { saturn: randomBytes(32) }, servers: server.url });
    const accepted: ChannelV1[] = [];
    try {
      await saturn.listen!({ address: 'cep.wrongkey', onReject: (r) => rejections.push(r) }, (ch) => accepted.push(ch));
      const error = await earth.open({ peer: 'saturn', mode: 'link', mount: 'main', localNode: 'earth', address: 'cep.wrongkey' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CepError);
      expect((error as CepError).code).toBe('AUTH_FAILED');
      expect(accepted).toEqual([]);
    } finally {
      await earth.close();
      await saturn.close();
    }
  });

  it('refuses an unknown peer and a dialer that asked for another peer name', async () => {
    const rejections: RejectionV1[] = [];
    const key = randomBytes(32);
    const saturn = nats({ localPeer: 'saturn', keys: { earth: key }, servers: server.url });
    const mars = nats({ localPeer: 'mars', keys: { saturn: key, jupiter: key }, servers: server.url });
    try {
      await saturn.listen!({ address: 'cep.who', onReject: (r) => rejections.push(r) }, () => {});
      const unknown = await mars.open({ peer: 'saturn', mode: 'link', mount: 'main', localNode: 'mars', address: 'cep.who' }).catch((e: unknown) => e);
      expect((unknown as CepError).code).toBe('AUTH_FAILED');
      const mismatch = await mars.open({ peer: 'jupiter', mode: 'link', mount: 'main', localNode: 'mars', address: 'cep.who' }).catch((e: unknown) => e);
      expect((mismatch as CepError).code).toBe('PEER_MISMATCH');
      expect(rejections.map((r) => [r.code, r.claimedPeer])).toEqual([
        ['AUTH_FAILED', 'mars'],
        ['PEER_MISMATCH', 'mars'],
      ]);
    } finally {
      await mars.close();
      await saturn.close();
    }
  });
});
