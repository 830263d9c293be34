import type { Tree } from '@cep/cells';
import type { Runtime } from '@cep/heartbeat';

/**
 * A real `@cep/heartbeat` runtime with some members replaced (a slow or failing
 * `step`, a tree that refuses writes). Everything else is the runtime's own,
 * read live from it, so `beat` keeps moving when the real `step()` runs.
 */
export function overrideRuntime(runtime: Runtime, overrides: { step?: () => unknown; tree?: Tree }): Runtime {
  return new Proxy(runtime, {
    get(target, prop) {
      if (prop === 'step' && overrides.step) return overrides.step;
      if (prop === 'tree' && overrides.tree) return overrides.tree;
      const value: unknown = Reflect.get(target, prop);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
