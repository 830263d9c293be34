/**
 * The telemetry record schema (`/net/telemetry/<peer>/<mount>/`). The checks themselves are
 * the record checks shared with discovery (`@cep/organ-discovery/records`). Pure.
 */
import type { Cell, Tree } from '@cep/cells';
import { checkRecord, type FieldSpec, type RecordSchema } from '@cep/organ-discovery/records';

/** The fields of a telemetry record, all required. Other children are allowed and left alone. */
export const TELEMETRY_FIELDS: readonly FieldSpec[] = Object.freeze([
  { name: 'ready_count', type: 'u64', meaning: '`ready` events seen on the mount' },
  { name: 'bp_count', type: 'u64', meaning: '`backpressure` events seen' },
  { name: 'fatal_count', type: 'u64', meaning: '`fatal` events seen' },
  { name: 'frame_count', type: 'u64', meaning: 'frames moved' },
  { name: 'last_mode', type: 'text', meaning: 'mode of the last frame (`none`, `data`, `upd_latest`, …)' },
  { name: 'last_sample', type: 'u64', meaning: 'the beat the record was last updated in' },
  { name: 'last_event', type: 'text', meaning: 'the last mount event (`none`, `open`, `ready`, `backpressure`, …)' },
  { name: 'bp_flag', type: 'bool', meaning: 'true while the mount is backpressured' },
]);

/** A telemetry record as the shared checks see it (its name is the mount's). */
export const TELEMETRY_SCHEMA: RecordSchema = Object.freeze({ noun: 'telemetry record', nameNoun: 'mount', fields: TELEMETRY_FIELDS });

/** Every problem of one telemetry record: its (mount) name, then its fields ([] when valid). */
export function checkTelemetry(tree: Tree, record: Cell): string[] {
  return checkRecord(tree, record, TELEMETRY_SCHEMA);
}
