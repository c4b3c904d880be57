/**
 * The upstream of the game-sessions example: a local HTTP server publishing the zipped events
 * (`generate.ts`) at `/game-sessions.zip`, as the reference system's download URL did.
 *
 *   npx tsx serve.ts [port]     # default 8765; generates data/game-sessions.zip first if absent
 *
 * `bronze.session_events` downloads from `GAME_SESSIONS_URL` (default
 * `http://127.0.0.1:8765/game-sessions.zip`).
 */
import { createReadStream, promises as fs } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_ZIP, writeZip } from './generate.js';

/** The URL path of the archive. */
export const ZIP_PATH = '/game-sessions.zip';

/** A running archive server: its URL and how to stop it. */
export interface ZipServer {
  /** `http://127.0.0.1:<port>/game-sessions.zip`. */
  url: string;
  /** Requests for the archive answered so far. */
  downloads: () => number;
  close: () => Promise<void>;
}

/**
 * Serves `file` at `ZIP_PATH` on 127.0.0.1:`port` (0: any free port), re-reading it on each
 * request (so a regenerated file is served at once). Other paths are 404.
 */
export async function serveZip(file: string, port = 0): Promise<ZipServer> {
  let downloads = 0;
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== ZIP_PATH) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    fs.stat(file).then(
      (st) => {
        downloads++;
        res.writeHead(200, { 'content-type': 'application/zip', 'content-length': st.size });
        createReadStream(file).pipe(res);
      },
      () => res.writeHead(404, { 'content-type': 'text/plain' }).end(`${file} is missing: run generate.ts\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}${ZIP_PATH}`,
    downloads: () => downloads,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (!(await fs.stat(DEFAULT_ZIP).catch(() => undefined))) await writeZip(DEFAULT_ZIP);
  const served = await serveZip(DEFAULT_ZIP, Number(process.argv[2] ?? 8765));
  console.log(`serving ${DEFAULT_ZIP} at ${served.url} (Ctrl-C stops)`);
}
