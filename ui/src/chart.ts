/**
 * Vega-Lite charts through vega-embed, rendered as SVG (so each mark is an element). vega-embed
 * is loaded on first use: one chunk of about 0.9 MB the pages without charts never fetch. Charts
 * work under the server's Content-Security-Policy (no `eval`).
 */
import type { TopLevelSpec } from 'vega-lite';

/** Draws `spec` into `target` (replacing its content); resolves once the chart is rendered. */
export async function drawChart(target: HTMLElement, spec: TopLevelSpec): Promise<void> {
  const { default: embed } = await import('vega-embed');
  // ast: Vega's expression interpreter instead of generated functions, so the page's Content-Security-Policy needs no 'unsafe-eval'
  await embed(target, spec, { renderer: 'svg', actions: false, ast: true });
}
