/**
 * @cep/organ-health — the health organ: validates `/net/telemetry/<peer>/<mount>/` records
 * (CEI `tp_schema` and `error_note` on what is wrong) and prunes telemetry and CEI mirrors
 * when mounts vanish. See README.md.
 */
export type { HealthErrorCode } from './errors.ts';
export { installHealth, HEALTH_KIND, TELEMETRY_ROOT, type HealthOptions, type HealthOrgan } from './install.ts';
export { TP_SCHEMA } from './check.ts';
export { prunePeer, liveMounts } from './prune.ts';
export { TELEMETRY_FIELDS, ERROR_NOTE, checkTelemetry, type FieldSpec, type FieldType } from './schema.ts';
