import { natsError } from './errors.ts';

/**
 * Addresses are NATS subject prefixes (`cep.saturn`): dot-separated tokens of letters,
 * digits, `_` and `-`, so no wildcard or whitespace can widen what a peer listens on.
 */
const PREFIX = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;
/** A NATS subject stays well below the server's 2^16 limit with this bound. */
const MAX_PREFIX_CHARS = 200;

/** Checks an address; throws `ADDRESS_INVALID` naming the syntax. */
export function parsePrefix(address: string): string {
  if (address.length > MAX_PREFIX_CHARS || !PREFIX.test(address)) {
    throw natsError('ADDRESS_INVALID', `"${address}" is not a NATS subject prefix; write dot-separated tokens of letters, digits, _ and -, e.g. cep.saturn`, {
      address,
    });
  }
  return address;
}

/** A name as one subject token: kept when already safe, else hex behind an `x_` marker. */
export function token(name: string): string {
  return /^[A-Za-z0-9_-]+$/.test(name) && !name.startsWith('x_') ? name : `x_${Buffer.from(name, 'utf8').toString('hex')}`;
}

/** Where a listener takes the first handshake message (request/reply). */
export function helloSubject(prefix: string): string {
  return `${prefix}.hello`;
}

/** The two data subjects of one channel: the mount is visible in the subject, the session id keeps channels apart. */
export function channelSubjects(prefix: string, mode: string, mount: string, session: string): { toListener: string; toDialer: string } {
  const base = `${prefix}.ch.${token(mode)}.${token(mount)}.${session}`;
  return { toListener: `${base}.l`, toDialer: `${base}.d` };
}
