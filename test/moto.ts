/** The moto S3-compatible server for tests (`pip install 'moto[server]'`). */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

const PYTHON = process.env['INGOT_PYTHON'] ?? 'python3';

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Starts moto's S3-compatible server on `port`. It is moto's own WSGI app served single-threaded
 * (what `python3 -m moto.server` runs, with `threaded=False`): moto checks If-None-Match and then
 * stores the object in two steps, which only serialized requests make atomic, as S3 is.
 */
async function startMoto(port: number): Promise<ChildProcess> {
  const code = 'import sys; from werkzeug.serving import run_simple; from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app; '
    + 'run_simple("127.0.0.1", int(sys.argv[1]), DomainDispatcherApplication(create_backend_app), threaded=False)';
  const proc = spawn(PYTHON, ['-c', code, String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  process.once('exit', () => proc.kill('SIGKILL')); // should the test process end without `after`
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<never>((_, reject) => proc.once('exit', (c) => reject(new Error(`moto server exited (${c}): ${stderr.trim()} (pip install 'moto[server]')`))));
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await Promise.race([fetch(`http://127.0.0.1:${port}/`), exited]);
      return proc;
    } catch (err) {
      if (proc.exitCode !== null || Date.now() > deadline) {
        proc.kill();
        throw err;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Stops a moto server started by `startMoto` (SIGTERM, then SIGKILL after 5 s). */
async function stopMoto(moto: ChildProcess | undefined): Promise<void> {
  if (!moto || moto.exitCode !== null || moto.signalCode !== null) return;
  const exited = new Promise((resolve) => moto.once('exit', resolve));
  moto.kill('SIGTERM');
  const timer = setTimeout(() => moto.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** A moto server this process's AWS environment points at (see `motoEnvironment`). */
export interface MotoEnvironment {
  /** `http://127.0.0.1:PORT` */
  endpoint: string;
  /** The same settings as delta-rs `storage_options`. */
  storageOptions: Record<string, string>;
  /** Stops the server and restores the environment variables it set. */
  stop: () => Promise<void>;
}

/**
 * Starts moto on a free port and points this process's AWS environment at it (endpoint, test
 * credentials, us-east-1), with `extra` variables set too (e.g. INGOT_CACHE_DIR), each restored by
 * `stop()`.
 */
export async function motoEnvironment(extra: Record<string, string> = {}): Promise<MotoEnvironment> {
  const port = await freePort();
  const moto = await startMoto(port);
  const endpoint = `http://127.0.0.1:${port}`;
  const aws = { AWS_ENDPOINT_URL: endpoint, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: 'us-east-1' };
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries({ ...aws, ...extra })) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  return {
    endpoint,
    storageOptions: { ...aws, AWS_ALLOW_HTTP: 'true' },
    stop: async () => {
      await stopMoto(moto);
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    },
  };
}
