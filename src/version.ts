import { readFileSync } from 'node:fs';

/** The ingot package version, as written in commitInfo.engineInfo. */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
