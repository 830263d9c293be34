/**
 * `@cep/transport/provider`: the provider contract, kept for compatibility. It is
 * `@cep/provider-spec` re-exported; new provider packages should depend on that package
 * instead (it carries no runtime or native dependencies).
 */
export * from '@cep/provider-spec';
