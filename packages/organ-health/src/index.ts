/**
 * @cep/organ-health — the health organ: validates `/net/telemetry/<peer>/<mount>/` records
 * (CEI `tp_schema` and `error_note` on what is wrong) and prunes telemetry and CEI mirrors
 * when mounts vanish. See README.md.
 */
export type { HealthErrorCode } from './errors.ts';
export { installHealth, HEALTH_KIND, TELEMETRY_ROOT, type HealthOptions, type HealthOrgan } from './install.ts';
export { prunePeer, liveMounts } from './prune.ts';
export { TELEMETRY_FIELDS, TELEMETRY_SCHEMA, checkTelemetry } from './schema.ts';
// The record checks are discovery's (one copy for both organs); re-exported for health's users.
export { ERROR_NOTE, TP_SCHEMA, type FieldSpec, type FieldType } from '@cep/organ-discovery/records';
