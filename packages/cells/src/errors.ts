import { CepError } from '@cep/errors';

/** Every code `@cep/cells` throws. */
export type CellsErrorCode =
  | 'NAME_EMPTY'
  | 'NAME_TOO_LONG'
  | 'NAME_BAD_CHAR'
  | 'NAME_NO_LETTER'
  | 'NAME_ALL_DIGITS'
  | 'NAME_NOT_WORD'
  | 'NAME_NOT_ACRONYM'
  | 'NAME_NOT_NUMERIC'
  | 'NAME_REFERENCE_CODE'
  | 'NAME_BAD_CODE'
  | 'NAME_GLOB'
  | 'PATH_INVALID'
  | 'CELL_NOT_FOUND'
  | 'CELL_KIND_MISMATCH'
  | 'CELL_EXISTS'
  | 'CELL_IS_ROOT'
  | 'VALUE_OUT_OF_RANGE'
  | 'VALUE_INVALID'
  | 'LINK_CYCLE'
  | 'LIST_INDEX_OUT_OF_RANGE'
  | 'BEAT_BACKWARDS';

export function cellsError(code: CellsErrorCode, message: string, details: Record<string, unknown> = {}): CepError<CellsErrorCode> {
  return new CepError(code, message, details);
}
