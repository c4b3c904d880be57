/**
 * Fixed-seed generator of the media system's landing data: JSON files for `media` (articles and
 * videos of news outlets) and `tiktokcomment` (comments on TikTok videos), several files a day
 * under day prefixes, as an upstream scraper drops them into a bucket:
 *
 *   media/2024-08-01/media_00.json            (a JSON array of records)
 *   tiktokcomment/2024-08-01/comments_00.json
 *
 * Like the real feed, records repeat: about 6% of a day's ids arrive twice in the same day (in a
 * later file, with refreshed counters) and about 4% re-arrive on a later day; no id arrives twice
 * in one file. From 2024-08-20 the media records carry a new field, `language`. The scraper starts
 * on 2024-08-01: the day before, 2024-07-31, has no files.
 *
 * `generate()` returns the files in arrival order so that tests can compute the expected tables
 * independently; `npx tsx generate.ts <dir | s3://bucket/prefix>` writes them.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PutObjectCommand, CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { seeded as prng } from '../seeded.js';

/** One landing file: its key under the landing root and its records. */
export interface LandingFile {
  key: string;
  day: string;
  records: Record<string, unknown>[];
}

/** First and last day with data (inclusive), and the day the scraper missed. */
export const FIRST_DAY = '2024-08-01';
export const LAST_DAY = '2024-09-30';
export const MISSING_DAY = '2024-07-31';
const LANGUAGE_FROM = '2024-08-20';

const OUTLETS = ['El País', 'RTVE', 'elDiario.es', 'El Mundo', 'La Vanguardia', 'Maldita', 'Newtral', 'ABC'];
const KINDS = ['article', 'video', 'podcast'];
const TOPICS = ['politics', 'economy', 'health', 'climate', 'sports', 'culture', 'science', 'fact-check'];
const WORDS = ['gobierno', 'elecciones', 'datos', 'verificación', 'clima', 'salud', 'empleo', 'vivienda', 'energía', 'Europa', 'congreso', 'bulos', 'inflación', 'agua'];
const LANGUAGES = ['es', 'ca', 'eu', 'gl', 'en'];

/** The days from `from` to `to` inclusive, `YYYY-MM-DD`. */
export function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000) {
    out.push(new Date(t).toISOString().slice(0, 10));
  }
  return out;
}

/** Generates every landing file of both sources, in arrival order (day, then file number). */
export function generate(seed = 2024): LandingFile[] {
  const rand = prng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  const files: LandingFile[] = [];
  const seenMedia: Record<string, unknown>[] = [];
  const seenComments: Record<string, unknown>[] = [];
  let mediaSeq = 0;
  let commentSeq = 0;
  for (const day of daysBetween(FIRST_DAY, LAST_DAY)) {
    const at = (): string => new Date(Date.parse(`${day}T00:00:00Z`) + int(0, 86_399) * 1000).toISOString();
    // media: 3 files a day
    const media: Record<string, unknown>[] = [];
    for (let i = int(120, 180); i > 0; i--) {
      const r: Record<string, unknown> = {
        id: `m${String(++mediaSeq).padStart(7, '0')}`,
        outlet: pick(OUTLETS),
        kind: pick(KINDS),
        title: Array.from({ length: int(3, 8) }, () => pick(WORDS)).join(' '),
        url: `https://media.example/${day}/${mediaSeq}`,
        published_at: at(),
        topics: Array.from({ length: int(1, 3) }, () => pick(TOPICS)),
        metrics: { views: int(0, 500_000), shares: int(0, 20_000) },
      };
      if (day >= LANGUAGE_FROM) r['language'] = pick(LANGUAGES);
      media.push(r);
    }
    files.push(...split('media', day, 'media', media, seenMedia, rand));
    seenMedia.push(...media);
    // tiktok comments: 2 files a day
    const comments: Record<string, unknown>[] = [];
    for (let i = int(200, 300); i > 0; i--) {
      comments.push({
        id: String(7_300_000_000_000_000_000n + BigInt(++commentSeq)),
        video_id: String(7_200_000_000_000_000_000n + BigInt(int(1, 5000))),
        text: Array.from({ length: int(2, 12) }, () => pick(WORDS)).join(' '),
        user: { id: `u${int(1, 20_000)}`, nickname: `user_${int(1, 20_000)}` },
        create_time: Math.floor(Date.parse(at()) / 1000),
        digg_count: int(0, 3000),
        reply_count: int(0, 50),
      });
    }
    files.push(...split('tiktokcomment', day, 'comments', comments, seenComments, rand));
    seenComments.push(...comments);
  }
  return files;
}

/**
 * Splits a day's records into files of one source, adding the repeats: some of the day's records
 * again in a later file with refreshed counters, and some earlier days' records.
 */
function split(source: string, day: string, stem: string, records: Record<string, unknown>[], earlier: Record<string, unknown>[], rand: () => number): LandingFile[] {
  const parts = source === 'media' ? 3 : 2;
  const out: LandingFile[] = Array.from({ length: parts }, (_, i) => ({ key: `${source}/${day}/${stem}_${String(i).padStart(2, '0')}.json`, day, records: [] }));
  records.forEach((r, i) => out[Math.floor((i * parts) / records.length)]!.records.push(r));
  const refreshed = (r: Record<string, unknown>): Record<string, unknown> => {
    const copy = structuredClone(r);
    const metrics = copy['metrics'] as { views: number } | undefined;
    if (metrics) metrics.views += 1 + Math.floor(rand() * 1000);
    else copy['digg_count'] = (copy['digg_count'] as number) + 1 + Math.floor(rand() * 10);
    return copy;
  };
  const last = out[parts - 1]!.records;
  for (const r of records.slice(0, Math.floor(records.length * (parts - 1) / parts))) {
    if (rand() < 0.09) last.push(refreshed(r));
  }
  // earlier days' records re-arrive at most once a day, so that a day's file order alone decides which copy came first
  const again = new Set<number>();
  for (let n = Math.floor(records.length * 0.04); n > 0 && earlier.length > 0; n--) again.add(earlier.length - 1 - Math.floor(rand() * Math.min(earlier.length, 600)));
  for (const i of again) out[Math.floor(rand() * parts)]!.records.push(refreshed(earlier[i]!));
  return out;
}

/** Writes the files under a local folder or an `s3://bucket/prefix` (created if missing; endpoint and credentials from the AWS environment). */
export async function write(files: LandingFile[], target: string): Promise<void> {
  const s3 = /^s3:\/\/([^/]+)\/?(.*)$/.exec(target);
  if (!s3) {
    for (const f of files) {
      const file = path.join(target, f.key);
      await fs.mkdir(path.dirname(file), { recursive: true });
      await fs.writeFile(file, JSON.stringify(f.records, null, 1));
    }
    return;
  }
  const [, bucket, prefix] = s3;
  const client = new S3Client({ forcePathStyle: true });
  await client.send(new CreateBucketCommand({ Bucket: bucket })).catch((err: { name?: string }) => {
    if (err.name !== 'BucketAlreadyOwnedByYou' && err.name !== 'BucketAlreadyExists') throw err;
  });
  for (const f of files) {
    const key = prefix ? `${prefix.replace(/\/$/, '')}/${f.key}` : f.key;
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(f.records), ContentType: 'application/json' }));
  }
  client.destroy();
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const target = process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), 'landing');
  const files = generate();
  await write(files, target);
  console.log(`${files.length} files, ${files.reduce((n, f) => n + f.records.length, 0)} records → ${target}`);
}
