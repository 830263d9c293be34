/**
 * `import()` of a module named at run time (handler modules, provider plug-ins), in one place
 * so the bundle can route it: the built peer runs as a script with a V8 code cache, and on
 * Node 20 a script read from a code cache has lost its dynamic-import hook. scripts/bundle.mjs
 * swaps this file for one that calls the `import()` bin/cep-node.js hands the bundle.
 */
export function importModule(specifier: string): Promise<Record<string, unknown>> {
  return import(specifier) as Promise<Record<string, unknown>>;
}
