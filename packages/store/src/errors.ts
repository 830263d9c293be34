import { CepError } from '@cep/errors';

/** Every code `@cep/store` throws. */
export type StoreErrorCode =
  /** A snapshot (or, with `onCorruptTail: 'fail'`, a journal entry) failed its checksum or does not decode. */
  | 'STORE_CORRUPT'
  /** The store was used after `close()`. */
  | 'STORE_CLOSED'
  /** An option is out of range (names the option). */
  | 'STORE_OPTION_INVALID'
  /** The store is attached to a runtime already, or the runtime is not at the store's next beat. */
  | 'STORE_ATTACH'
  /** The engine failed to write or sync; the beats after the last durable one are not acknowledged. */
  | 'STORE_IO'
  /** Another live process holds the store directory's lock (details: `dir`, `pid`). */
  | 'STORE_LOCKED';

export function storeError(code: StoreErrorCode, message: string, details: Record<string, unknown> = {}): CepError<StoreErrorCode> {
  return new CepError(code, message, details);
}
