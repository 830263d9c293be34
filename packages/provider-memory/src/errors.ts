import { CepError, type ProviderErrorCode } from '@cep/provider-spec';

/**
 * Codes raised by the memory provider: the shared provider codes plus two of its own.
 * - `ADDRESS_IN_USE`: `listen` on an address another listener of the same network holds.
 * - `NOT_MEMORY`: a hook was given a provider or channel that `memory()` did not make
 *   (or a channel that belongs to another memory provider).
 */
export type MemoryErrorCode = ProviderErrorCode | 'ADDRESS_IN_USE' | 'NOT_MEMORY';

/** Builds a {@link CepError} with a memory-provider code. */
export function memoryError(code: MemoryErrorCode, message: string, details: Record<string, unknown> = {}): CepError<MemoryErrorCode> {
  return new CepError(code, message, details);
}
