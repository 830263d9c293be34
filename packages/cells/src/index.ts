/**
 * @cep/cells — names, the cell tree, beat-stamped history and a deterministic digest.
 * See README.md for the rules and an example.
 */
export type { CellsErrorCode } from './errors.ts';
export {
  id,
  wordId,
  acronymId,
  numericId,
  referenceId,
  idFromCode,
  compareIds,
  idEquals,
  isWordText,
  explainNotWord,
  WORD_MAX_CHARS,
  ACRONYM_MAX_CHARS,
  REFERENCE_MAX_BYTES,
  NUMERIC_MAX,
  type Id,
  type IdKind,
} from './ids.ts';
export { CEP, name, compareNames, nameEquals, formatName, parsePath, formatPath, type Name, type PathLike } from './names.ts';
export {
  text,
  u64,
  i64,
  bool,
  bytes,
  raw,
  beatValue,
  valueEquals,
  valueToData,
  valueFromData,
  formatValue,
  DATA_TYPES,
  type Value,
  type ValueType,
} from './values.ts';
export type { Cell, CellKind, HistoryEntry } from './cell.ts';
export { createTree, type Tree, type TreeChange, type TreeOptions, type NewChild, type SubscribeOptions, type ChangeWatcher } from './tree.ts';
export { digest, digestHex } from './digest.ts';
export {
  imageOf,
  exportTree,
  applyImages,
  trackChanges,
  restoreTree,
  isRemoval,
  type CellImage,
  type CellRemoval,
  type CellEdit,
  type ChangeTracker,
  type TreeRestorer,
} from './image.ts';
