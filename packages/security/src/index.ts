/**
 * @cep/security — enclaves, declared edges, approved pipelines and budgets: the checks
 * invoke runs on the sending and on the receiving runtime. See README.md.
 */
export type { SecurityErrorCode } from './errors.ts';
export {
  declarePolicy,
  writePipelineSpec,
  readPolicy,
  readPipelineSpec,
  policyVersion,
  SECURITY_ROOT,
  type Budgets,
  type PipelineSpec,
  type PipelineStage,
  type PolicyConfig,
  type PolicySnapshot,
} from './policy.ts';
export { approvePipeline, approvalProblem, preflight, parsePipelineMeta, specHash, type Approval, type PreflightRequest } from './pipelines.ts';
export { checkInvoke, tightest, type Decision, type InvokeCheck, type SecurityTopic, type Usage } from './decide.ts';
export {
  newInvokeId,
  isInvokeId,
  invokeIdName,
  recordUsage,
  usageOf,
  pruneUsage,
  admitInvokeId,
  admitInvokeIdVerdict,
  DEFAULT_MAX_SEEN_IDS,
  DEFAULT_MAX_USAGE_RECORDS,
  type InvokeIdVerdict,
} from './ledger.ts';
