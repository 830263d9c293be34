/** The suite a CEP transport provider author runs against their provider. */
export { providerComplianceTests } from './suite.ts';
export type { ComplianceEnv, ComplianceOptions } from './types.ts';
