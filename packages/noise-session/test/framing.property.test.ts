import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { secureInitiator, secureResponder } from '../src/index.ts';
import { allowing, duplexPair, node, reader } from './helpers.ts';

const alice = node('alice');
const bob = node('bob');

describe('record framing', () => {
  it('delivers every message intact and in order whatever the sizes and however the stream is cut', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 20_000 }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        async (sizes, cuts, oneBurst) => {
          const [a, b] = duplexPair(cuts);
          const [dialer, listener] = await Promise.all([
            secureInitiator(a, { localName: 'alice', staticKey: alice.key, allowList: allowing(bob), peer: 'bob', rekeyAfterRecords: 3 }),
            secureResponder(b, { localName: 'bob', staticKey: bob.key, allowList: allowing(alice) }),
          ]);
          const messages = sizes.map((size, i) => Buffer.alloc(size, i % 251));
          const inbox = reader(listener);
          for (const message of messages) {
            if (oneBurst) dialer.send(message);
            else await new Promise<void>((resolve) => dialer.write(message, () => resolve()));
          }
          for (const message of messages) expect(Buffer.compare(await inbox.next(), message)).toBe(0);
          dialer.destroy();
          listener.destroy();
        },
      ),
      { numRuns: 40 },
    );
  });
});
