/**
 * `@cep/organ-discovery/records` — checking `/net` records, for organs that validate a branch
 * of typed records (discovery's service records, `@cep/organ-health`'s telemetry records):
 * field checks, the `error_note` + `tp_schema` verdict, and the install checks. See README.md,
 * "Shared record checks".
 */
export {
  ERROR_NOTE,
  checkRecord,
  describe,
  fieldProblems,
  hasContent,
  isErrorNote,
  liveChild,
  nameProblem,
  type FieldSpec,
  type FieldType,
  type RecordSchema,
} from './fields.ts';
export { TP_SCHEMA, ceiPeer, checkRecords, publishVerdict, reportProblem, type CheckEnv } from './verdict.ts';
export { checkInstall, type InstallCodes } from './setup.ts';
