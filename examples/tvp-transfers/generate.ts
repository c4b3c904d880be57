/**
 * Fixed-seed generator of the TVP system's input: the rows a Dune query returns for one
 * `block_date` — ETH transfers attributed to a TVP vertical and protocol, with their value in USD.
 *
 *   { block_date: '2024-11-23', block_time: '2024-11-23 04:12:09.000 UTC', vertical: 'DEX',
 *     protocol: 'Uniswap', amount_usd: 1834.27, tx_hash: '0x…64 hex', from_address: '0x…40 hex', to_address: '0x…' }
 *
 * Each day's rows depend only on the seed and the date, so the local API (`serve.ts`) and the
 * tests compute the same rows independently. About 4% of the rows are bad, one defect each:
 * `amount_usd` NULL or negative, a vertical outside `VERTICALS`, or a malformed `tx_hash`.
 */

import { seeded as prng } from '../seeded.js';

/** The TVP verticals and the protocols of each. */
export const PROTOCOLS: Record<string, string[]> = {
  DEX: ['Uniswap', 'Curve', '1inch', 'Balancer'],
  Lending: ['Aave', 'Compound', 'Spark'],
  Bridge: ['Across', 'Stargate', 'Hop'],
  Staking: ['Lido', 'Rocket Pool'],
  'NFT Marketplace': ['OpenSea', 'Blur'],
  Derivatives: ['GMX', 'dYdX', 'Synthetix'],
  Payments: ['Sablier', 'Request'],
  Yield: ['Yearn', 'Convex'],
};
export const VERTICALS = Object.keys(PROTOCOLS);

/** One transfer as the API serves it. */
export interface Transfer {
  block_date: string;
  block_time: string;
  vertical: string;
  protocol: string;
  amount_usd: number | null;
  tx_hash: string;
  from_address: string;
  to_address: string;
}

/** Which defect a bad row has (undefined: a good row). */
export type Defect = 'null_amount' | 'negative_amount' | 'unknown_vertical' | 'bad_hash';

/** Popularity weights: a few verticals and protocols dominate, as on chain. */
const VERTICAL_WEIGHT: Record<string, number> = { DEX: 30, Lending: 16, Bridge: 12, Staking: 10, 'NFT Marketplace': 9, Derivatives: 8, Payments: 5, Yield: 4 };
/** Typical transfer size per vertical in USD (log-normal around it). */
const VERTICAL_SIZE: Record<string, number> = { DEX: 2_500, Lending: 12_000, Bridge: 6_000, Staking: 30_000, 'NFT Marketplace': 900, Derivatives: 8_000, Payments: 400, Yield: 15_000 };

/** The rows (with each one's defect, if any) served for `blockDate` (`YYYY-MM-DD`). */
export function generateDay(blockDate: string, seed = 2024): { row: Transfer; defect?: Defect }[] {
  const rand = prng(seed * 100_003 + Date.parse(`${blockDate}T00:00:00Z`) / 86_400_000);
  const hex = (n: number): string => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join('');
  const weighted = (weights: Record<string, number>): string => {
    const total = Object.values(weights).reduce((a, b) => a + b, 0);
    let x = rand() * total;
    for (const [k, w] of Object.entries(weights)) if ((x -= w) < 0) return k;
    return Object.keys(weights).at(-1)!;
  };
  const n = 150 + Math.floor(rand() * 101);
  const start = Date.parse(`${blockDate}T00:00:00Z`);
  const seconds = Array.from({ length: n }, () => Math.floor(rand() * 86_400)).sort((a, b) => a - b);
  return seconds.map((s) => {
    const vertical = weighted(VERTICAL_WEIGHT);
    const protocols = PROTOCOLS[vertical]!;
    // the first protocol of a vertical carries most of its flow
    const protocol = rand() < 0.5 ? protocols[0]! : protocols[Math.floor(rand() * protocols.length)]!;
    const size = VERTICAL_SIZE[vertical]! * Math.exp((rand() - 0.5) * 3);
    const row: Transfer = {
      block_date: blockDate,
      block_time: `${new Date(start + s * 1000).toISOString().replace('T', ' ').replace('Z', '')} UTC`,
      vertical, protocol,
      amount_usd: Math.round(size * 100) / 100,
      tx_hash: `0x${hex(64)}`, from_address: `0x${hex(40)}`, to_address: `0x${hex(40)}`,
    };
    const r = rand();
    if (r < 0.01) return { row: { ...row, amount_usd: null }, defect: 'null_amount' as const };
    if (r < 0.02) return { row: { ...row, amount_usd: -row.amount_usd! }, defect: 'negative_amount' as const };
    if (r < 0.03) return { row: { ...row, vertical: rand() < 0.5 ? 'Unknown' : 'gaming?' }, defect: 'unknown_vertical' as const };
    if (r < 0.04) return { row: { ...row, tx_hash: rand() < 0.5 ? `0x${hex(63)}` : `0x${hex(60)}zzzz` }, defect: 'bad_hash' as const };
    return { row };
  });
}

/** The days from `from` to `to` inclusive, `YYYY-MM-DD`. */
export function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}
