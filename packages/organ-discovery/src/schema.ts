/**
 * The service record schema (`/net/peers/<peer>/services/<service>/`). The checks themselves
 * are the shared record checks (`./fields.ts`). Pure: reads the tree, writes nothing.
 */
import type { Cell, Tree } from '@cep/cells';
import { checkRecord, type FieldSpec, type RecordSchema } from './fields.ts';

/** The fields of a service record, all required. Other children are allowed and left alone. */
export const SERVICE_FIELDS: readonly FieldSpec[] = Object.freeze([
  { name: 'mode', type: 'text', word: true, meaning: 'the mount mode the service is reached through (`link`, `mirror`, `invoke`, …)' },
  { name: 'mount', type: 'text', word: true, meaning: 'the mount name under `/net/mounts/<peer>/<mode>/`' },
  { name: 'local_node', type: 'text', word: true, meaning: 'the node on this side that owns the mount' },
  { name: 'provider', type: 'text', word: true, meaning: 'the transport provider id (as catalogued under `/net/transports/`)' },
  { name: 'upd_latest', type: 'bool', word: false, meaning: 'whether the service accepts latest-value-only (droppable) gauges' },
]);

/** A service record as the shared checks see it. */
export const SERVICE_SCHEMA: RecordSchema = Object.freeze({ noun: 'service', nameNoun: 'service', fields: SERVICE_FIELDS });

/** Every problem of one service record: its name, then its fields ([] when valid). */
export function checkService(tree: Tree, service: Cell): string[] {
  return checkRecord(tree, service, SERVICE_SCHEMA);
}
