#!/usr/bin/env node
/**
 * The `cep-node` binary run from source (`node --conditions=@cep/source --import tsx src/cli.ts`,
 * what the tests spawn): {@link runBinary} on this process. The built binary runs the bundle.
 */
import { runBinary } from './main.ts';

await runBinary();
