/**
 * @cep/organ-link — the link organ: requests under `/net/organs/link/requests/<id>/` become
 * transport mounts, with `state`, `provider` and `error_note` in the tree; plus the shared
 * mount-request machinery other organs (invoke, mirror) build on. See README.md.
 */
export type { OrganLinkErrorCode } from './errors.ts';
export { installLink, LINK_KIND, LINK_DEFAULT_REQUIRED, type LinkOptions, type LinkOrgan } from './install.ts';
export { installMountOrgan, requestsRoot, type MountOrgan, type MountOrganOptions, type MountOrganTopics, type MountRequestEntry } from './mount-organ.ts';
export { mountKey } from './ownership.ts';
export { DEFAULT_RETRY, resolveRetry, retryDelay, type RetryOptions, type RetryPolicy } from './retry.ts';
export type { RequestState } from './publish.ts';
