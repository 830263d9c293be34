import { text, u64 } from '@cep/cells';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../src/config/load.ts';
import { loadHandlers } from '../src/handlers.ts';
import { createRuntime } from '@cep/heartbeat';
import { runCli } from '../src/program.ts';
import { tempDir } from './helpers/files.ts';
import { fakeIo } from './helpers/io.ts';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

function configWith(invoke: unknown[]) {
  const file = tmp.write('peer.yaml', stringify({ peer: 'saturn', enclave: 'lab', invoke }));
  return { file, config: loadConfig(file) };
}

describe('invoke handler modules', () => {
  it('loads a default-exported handler object and a named function export', async () => {
    tmp.write(
      'add.mjs',
      `export default { description: 'adds', run(call) { return { status: 'ok', result: { type: 'u64', value: call.payload.value + 1n } }; } };`,
    );
    tmp.write('echo.mjs', `export function echo(call) { return { status: 'ok', result: call.payload }; }`);
    const { file, config } = configWith([
      { name: 'add', module: './add.mjs' },
      { name: 'echo', module: 'echo.mjs', export: 'echo' },
    ]);
    const handlers = await loadHandlers(config, file);
    expect(handlers.map((h) => h.name)).toEqual(['add', 'echo']);
    const tree = createRuntime().tree;
    const call = { invokeId: 'inv-test', beat: 4, caller: 'earth', signal: '/sig/add', payload: u64(41), tree };
    expect(handlers[0]!.handler.run(call)).toEqual({ status: 'ok', result: u64(42) });
    expect(handlers[1]!.handler.run({ ...call, payload: text('hi') })).toEqual({ status: 'ok', result: text('hi') });
  });

  it('names the file and field when a module has no handler', async () => {
    tmp.write('empty.mjs', `export const nothing = 1;`);
    const { file, config } = configWith([{ name: 'add', module: 'empty.mjs' }]);
    await expect(loadHandlers(config, file)).rejects.toMatchObject({
      code: 'HANDLER_INVALID',
      message: expect.stringMatching(new RegExp(`^${file}: invoke\\[0\\]\\.module: .*empty\\.mjs has no handler in export "default"`)),
    });
  });

  it('names the file and field when a module cannot be loaded', async () => {
    tmp.write('broken.mjs', `export default {`);
    const { file, config } = configWith([{ name: 'ok', module: 'missing.mjs' }]);
    await expect(loadHandlers(config, file)).rejects.toMatchObject({
      code: 'HANDLER_LOAD_FAILED',
      message: expect.stringContaining(`${file}: invoke[0].module: cannot load`),
    });
    const second = configWith([{ name: 'bad', module: 'broken.mjs' }]);
    await expect(loadHandlers(second.config, second.file)).rejects.toMatchObject({ code: 'HANDLER_LOAD_FAILED' });
  });

  it('cep-node run refuses to start with a bad handler module and exits 3', async () => {
    tmp.write('empty.mjs', `export const nothing = 1;`);
    const file = tmp.write('peer.yaml', stringify({ peer: 'saturn', enclave: 'lab', http: { port: 0 }, invoke: [{ name: 'add', module: 'empty.mjs' }] }));
    const io = fakeIo();
    expect(await runCli(['node', 'cep-node', 'run', '--config', file], io.deps)).toBe(3);
    expect(io.stderr()).toContain(`${file}: invoke[0].module:`);
    expect(io.logs.find((l) => l['msg'] === 'peer started')).toBeUndefined();
  });
});
