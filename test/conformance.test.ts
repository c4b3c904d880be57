import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { it } from 'node:test';
import { REPO_ROOT } from './helpers.js';

const CORPUS = path.resolve(process.env['INGOT_CONFORMANCE_DIR'] ?? path.join(REPO_ROOT, '..', 'shared', 'conformance', 'delta'));

it('every corpus table delta-rs reads matches ingot or is refused by feature; at least 98% match', { timeout: 15 * 60_000 }, () => {
  assert.ok(existsSync(CORPUS), `the Delta conformance corpus is missing at ${CORPUS}`);
  const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'test', 'conformance', 'run.ts')], { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  assert.equal(run.status, 0, `conformance found mismatches or failures:\n${run.stdout.slice(0, 4000)}\n${run.stderr.slice(0, 2000)}`);
  const results = JSON.parse(readFileSync(path.join(REPO_ROOT, '.tmp', 'conformance', 'results.json'), 'utf8')) as { status: string }[];
  const count = (s: string): number => results.filter((r) => r.status === s).length;
  assert.equal(count('mismatched'), 0);
  assert.equal(count('failed'), 0);
  const readable = count('matched') + count('refused');
  assert.ok(readable >= 130, `only ${readable} tables readable by delta-rs: is the corpus complete?`);
  assert.ok(count('matched') / readable >= 0.98, `${count('matched')} of ${readable} tables match`);
});
