/**
 * Real servers from Debian's packages for the storage examples' tests and benchmarks: Mosquitto,
 * a throwaway PostgreSQL cluster and InfluxDB 1.x, each in its own temporary directory, listening
 * on 127.0.0.1 at a free port, stopped and removed again by `stop()`.
 *
 * Which binaries: `apt-get install mosquitto influxdb postgresql` (.ci/run does it). In CI
 * (`CI=true`) a missing binary is a failure; elsewhere the tests that need it are skipped with a
 * message saying what to install.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { until } from './manual-clock';
import { pg } from './pg';

export type ServerName = 'mosquitto' | 'postgresql' | 'influxdb';

const PACKAGES: Record<ServerName, string> = { mosquitto: 'mosquitto', postgresql: 'postgresql', influxdb: 'influxdb' };

function firstExisting(candidates: string[]): string | undefined {
  return candidates.find((file) => fs.existsSync(file));
}

function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  return firstExisting(versions.map((v) => path.join(root, v, 'bin')));
}

/** Where each server's binary is, or undefined when it is not installed. */
export function serverBinary(name: ServerName): string | undefined {
  switch (name) {
    case 'mosquitto':
      return firstExisting(['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto']);
    case 'influxdb':
      return firstExisting(['/usr/bin/influxd', '/usr/local/bin/influxd']);
    case 'postgresql': {
      const bin = postgresBin();
      return bin && fs.existsSync(path.join(bin, 'postgres')) && fs.existsSync(path.join(bin, 'initdb')) ? bin : undefined;
    }
  }
}

/**
 * For `describe(name, { skip: skipWithout('mosquitto') }, …)`: false when the servers are
 * installed; a reason to skip otherwise, except in CI, where it throws so the suite fails loudly.
 */
export function skipWithout(...names: ServerName[]): string | false {
  const missing = names.filter((name) => !serverBinary(name));
  if (missing.length === 0) return false;
  const text = `${missing.join(', ')} not installed: apt-get install ${missing.map((n) => PACKAGES[n]).join(' ')}`;
  if (process.env.CI) throw new Error(`${text} (CI must run these tests; .ci/run installs them)`);
  return text;
}

/** A port that was free a moment ago (the server binds it next; a race with another process is retried by the callers). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

interface Owner {
  uid: number;
  gid: number;
}

/** PostgreSQL refuses to run as root: as root, its files and processes belong to `postgres`. */
function postgresOwner(): Owner | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || uid === 0) throw new Error('Running as root, but there is no postgres user to run PostgreSQL as: apt-get install postgresql.');
  return { uid, gid };
}

/** Every child still running when the test process ends is stopped, so no server outlives its test. */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

class ServerProcess {
  private output = '';
  private exited: Promise<number | null>;

  constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    children.add(child);
    const keep = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString('utf8')).slice(-8000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => child.once('exit', (code) => {
      children.delete(child);
      resolve(code);
    }));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Waits until `ready()` holds; fails with the server's own output if it exits first. */
  async waitReady(ready: () => Promise<boolean>): Promise<void> {
    await until(async () => {
      if (!this.running) throw new Error(`${this.name} exited while starting:\n${this.output}`);
      return ready();
    }, `${this.name} to accept connections`, 60_000);
  }

  /** Stops the server (`signal`, then SIGKILL after a long guard) and waits for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    const guard = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
    await this.exited;
    clearTimeout(guard);
  }
}

function tempDir(prefix: string, owner?: Owner): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  if (owner) fs.chownSync(dir, owner.uid, owner.gid);
  return dir;
}

/** Starts a server on a free port, trying again with another port if one was taken in between. */
async function onFreePort<T>(start: (port: number) => Promise<T>): Promise<T> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      return await start(await freePort());
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

export interface MosquittoServer {
  port: number;
  /** `mqtt://127.0.0.1:<port>` */
  url: string;
  stop(): Promise<void>;
}

/** Mosquitto 2 with anonymous access on 127.0.0.1 only, nothing persisted. */
export async function startMosquitto(): Promise<MosquittoServer> {
  const binary = serverBinary('mosquitto');
  if (!binary) throw new Error(skipWithout('mosquitto') || 'mosquitto missing');
  const dir = tempDir('mosquitto-');
  return onFreePort(async (port) => {
    const config = path.join(dir, 'mosquitto.conf');
    fs.writeFileSync(config, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'log_dest stderr', 'log_type error', 'log_type warning', ''].join('\n'));
    const server = new ServerProcess('mosquitto', spawn(binary, ['-c', config], { stdio: ['ignore', 'pipe', 'pipe'] }));
    await server.waitReady(() => canConnect(port));
    return {
      port,
      url: `mqtt://127.0.0.1:${port}`,
      stop: async () => {
        await server.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  });
}

export interface PostgresServer {
  host: string;
  port: number;
  user: string;
  database: string;
  /** For pg's `Client`/`Pool`. */
  connection: { host: string; port: number; user: string; database: string };
  stop(): Promise<void>;
}

export interface PostgresOptions {
  /** Database created for the caller (default `energy`). */
  database?: string;
  /**
   * Keep PostgreSQL's durability settings (fsync, synchronous commit) as in production, for
   * benchmarks. Tests turn them off: a throwaway cluster needs no crash safety.
   */
  durable?: boolean;
}

/** A throwaway PostgreSQL cluster: initdb in a temp dir, trust auth on 127.0.0.1, socket in the temp dir. */
export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const bin = serverBinary('postgresql');
  if (!bin) throw new Error(skipWithout('postgresql') || 'postgresql missing');
  const owner = postgresOwner();
  const dir = tempDir('postgres-', owner);
  const data = path.join(dir, 'data');
  const asOwner = owner ? { uid: owner.uid, gid: owner.gid } : {};
  const init = spawnSync(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--locale=C'], { encoding: 'utf8', cwd: dir, ...asOwner });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout || init.error}`);
  const database = options.database ?? 'energy';
  const settings = options.durable ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'];
  return onFreePort(async (port) => {
    const args = ['-D', data, '-h', '127.0.0.1', '-p', String(port), '-k', dir, '-c', 'max_connections=50', ...settings];
    const server = new ServerProcess('postgres', spawn(path.join(bin, 'postgres'), args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir, ...asOwner }));
    await server.waitReady(() => canConnect(port));
    const connection = { host: '127.0.0.1', port, user: 'postgres', database };
    await createDatabase({ ...connection, database: 'postgres' }, database);
    return {
      ...connection,
      connection,
      // SIGINT: PostgreSQL's "fast" shutdown, which ends open sessions instead of waiting for them.
      stop: async () => {
        await server.stop('SIGINT');
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  });
}

async function createDatabase(connection: { host: string; port: number; user: string; database: string }, name: string): Promise<void> {
  // The postmaster accepts TCP a moment before it accepts sessions ("the database system is starting up").
  await until(async () => {
    const client = new pg.Client(connection);
    try {
      await client.connect();
      await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      return true;
    } catch (error) {
      if ((error as { code?: string }).code === '57P03' || /starting up/.test(String(error))) return false;
      throw error;
    } finally {
      await client.end().catch(() => undefined);
    }
  }, 'PostgreSQL to accept sessions', 60_000);
}

export interface InfluxServer {
  port: number;
  /** `http://127.0.0.1:<port>` */
  url: string;
  database: string;
  /** InfluxQL over HTTP (`GET /query`), the series of the first statement's result. */
  query(q: string): Promise<InfluxSeries[]>;
  /** Line protocol over HTTP (`POST /write`), time stamps in ms. */
  write(lines: string): Promise<void>;
  stop(): Promise<void>;
}

export interface InfluxSeries {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

/** InfluxDB 1.x with every directory in a temp dir, HTTP and RPC on 127.0.0.1 only, no reporting. */
export async function startInfluxDb(database = 'energy'): Promise<InfluxServer> {
  const binary = serverBinary('influxdb');
  if (!binary) throw new Error(skipWithout('influxdb') || 'influxdb missing');
  const dir = tempDir('influxdb-');
  return onFreePort(async (port) => {
    const rpc = await freePort();
    const config = path.join(dir, 'influxdb.conf');
    fs.writeFileSync(config, `reporting-disabled = true
bind-address = "127.0.0.1:${rpc}"
[meta]
  dir = "${path.join(dir, 'meta')}"
  logging-enabled = false
[data]
  dir = "${path.join(dir, 'data')}"
  wal-dir = "${path.join(dir, 'wal')}"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:${port}"
  log-enabled = false
[monitor]
  store-enabled = false
[subscriber]
  enabled = false
[continuous_queries]
  enabled = false
[logging]
  level = "warn"
`);
    const server = new ServerProcess('influxd', spawn(binary, ['-config', config], { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir }));
    const url = `http://127.0.0.1:${port}`;
    await server.waitReady(async () => (await fetch(`${url}/ping`).catch(() => undefined))?.status === 204);
    const post = await fetch(`${url}/query`, { method: 'POST', body: new URLSearchParams({ q: `CREATE DATABASE "${database}"` }) });
    if (!post.ok) throw new Error(`CREATE DATABASE failed: ${post.status} ${await post.text()}`);
    return {
      port,
      url,
      database,
      async query(q: string): Promise<InfluxSeries[]> {
        const response = await fetch(`${url}/query?${new URLSearchParams({ db: database, q, epoch: 'ms' })}`);
        const body = (await response.json()) as { results?: { series?: InfluxSeries[]; error?: string }[]; error?: string };
        const error = body.error ?? body.results?.[0]?.error;
        if (!response.ok || error) throw new Error(`InfluxDB query failed: ${error ?? response.status}`);
        return body.results?.[0]?.series ?? [];
      },
      async write(lines: string): Promise<void> {
        const response = await fetch(`${url}/write?${new URLSearchParams({ db: database, precision: 'ms' })}`, { method: 'POST', body: lines });
        if (response.status !== 204) throw new Error(`InfluxDB write failed: ${response.status} ${await response.text()}`);
      },
      stop: async () => {
        await server.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  });
}
