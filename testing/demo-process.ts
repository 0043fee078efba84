/**
 * Runs `scripts/start.js` (what `npm start` runs) as a child process on a free port with a
 * temporary user directory, and hands back its URL once Node-RED says it is listening.
 */
import { spawn, ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from './runtime';

export interface DemoProcess {
  baseUrl: string;
  userDir: string;
  /** Everything Node-RED printed so far. */
  output(): string;
  stop(): Promise<void>;
}

export async function startDemo(extraEnv: Record<string, string> = {}): Promise<DemoProcess> {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'energy-export-demo-'));
  let output = '';
  const child: ChildProcess = spawn(process.execPath, [path.join(repoRoot, 'scripts', 'start.js')], {
    cwd: repoRoot,
    env: { ...process.env, ENERGY_EXPORT_PORT: '0', ENERGY_EXPORT_USER_DIR: userDir, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Node-RED did not start within 60 s:\n${output}`)), 60_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /Server now running at (http:\/\/127\.0\.0\.1:\d+)\//.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`start exited with ${code}:\n${output}`));
    });
  });
  return {
    baseUrl,
    userDir,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGINT');
        await exited;
      }
      fs.rmSync(userDir, { recursive: true, force: true });
    },
  };
}
