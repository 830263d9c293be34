/**
 * @cep/organ-discovery — the discovery organ: validates `/net/peers/<peer>/services/<service>/`
 * records (CEI `tp_schema` and `error_note` on what is wrong) and prunes empty peer branches.
 * See README.md.
 */
export type { DiscoveryErrorCode } from './errors.ts';
export { installDiscovery, DISCOVERY_KIND, PEERS_ROOT, type DiscoveryOptions, type DiscoveryOrgan } from './install.ts';
export { SERVICE_FIELDS, SERVICE_SCHEMA, checkService } from './schema.ts';
export { ERROR_NOTE, type FieldSpec, type FieldType } from './fields.ts';
export { TP_SCHEMA } from './verdict.ts';
