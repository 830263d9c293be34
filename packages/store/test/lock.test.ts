import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LOCK_FILE, lockDirectory } from '@cep/store';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cep-lock-'));
  dirs.push(dir);
  return dir;
}

/** The pid of a process that has exited (so no process runs under it now, barring reuse). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

describe('lockDirectory', () => {
  it('writes our pid, refuses a second holder naming that pid, and frees on release', () => {
    const dir = tempDir();
    const lock = lockDirectory(dir);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8').trim()).toBe(String(process.pid));
    expect(() => lockDirectory(dir)).toThrow(expect.objectContaining({ code: 'STORE_LOCKED', details: expect.objectContaining({ pid: process.pid, dir }) }));
    lock.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    lockDirectory(dir).release();
  });

  it('refuses while another live process holds the lock', async () => {
    const dir = tempDir();
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      writeFileSync(join(dir, LOCK_FILE), `${child.pid}\n`);
      expect(() => lockDirectory(dir)).toThrow(expect.objectContaining({ code: 'STORE_LOCKED', message: expect.stringContaining(`process ${child.pid}`) }));
      expect(readFileSync(join(dir, LOCK_FILE), 'utf8').trim()).toBe(String(child.pid));
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('takes over a lock whose process is dead, or whose pid was never written', async () => {
    const dir = tempDir();
    const dead = await deadPid();
    writeFileSync(join(dir, LOCK_FILE), `${dead}\n`);
    const lock = lockDirectory(dir);
    expect(lock.tookOverFrom).toBe(dead);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8').trim()).toBe(String(process.pid));
    lock.release();
    writeFileSync(join(dir, LOCK_FILE), '');
    const again = lockDirectory(dir);
    expect(again.tookOverFrom).toBeUndefined();
    again.release();
  });

  it('release leaves a lock that is no longer ours alone', () => {
    const dir = tempDir();
    const lock = lockDirectory(dir);
    writeFileSync(join(dir, LOCK_FILE), '1\n');
    lock.release();
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8').trim()).toBe('1');
  });
});
