/**
 * @cep/organ-discovery — the discovery organ: validates `/net/peers/<peer>/services/<service>/`
 * records (CEI `tp_schema` and `error_note` on what is wrong) and prunes empty peer branches.
 * See README.md.
 */
export type { DiscoveryErrorCode } from './errors.ts';
export { installDiscovery, DISCOVERY_KIND, PEERS_ROOT, type DiscoveryOptions, type DiscoveryOrgan } from './install.ts';
export { TP_SCHEMA } from './peer.ts';
export { SERVICE_FIELDS, ERROR_NOTE, checkService, type FieldSpec, type FieldType } from './schema.ts';
