/**
 * A pipeline's dataset graph as SVG: one column per depth (the longest path from a source), edges
 * from each upstream dataset to the datasets reading it. Upstream datasets outside the pipeline
 * are drawn dashed.
 */

const SVG = 'http://www.w3.org/2000/svg';
const W = 170;
const H = 30;
const GAP_X = 60;
const GAP_Y = 14;

function el(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** The SVG of `datasets` (`{ name, dependsOn, state? }`); each node is a `g.node[data-name][data-state]`, coloured by its latest state, linking to its dataset page. */
export function datasetGraph(datasets: { name: string; dependsOn: string[]; state?: string; stateReason?: string | null }[]): SVGSVGElement {
  const states = new Map(datasets.map((d) => [d.name, d]));
  const inPipeline = new Set(datasets.map((d) => d.name));
  const deps = new Map<string, string[]>(datasets.map((d) => [d.name, d.dependsOn]));
  for (const d of datasets) for (const u of d.dependsOn) if (!deps.has(u)) deps.set(u, []);
  const depth = new Map<string, number>();
  const depthOf = (n: string, seen: Set<string>): number => {
    const known = depth.get(n);
    if (known !== undefined) return known;
    if (seen.has(n)) return 0; // a cycle: the API never reports one, but do not loop
    seen.add(n);
    const d = Math.max(-1, ...(deps.get(n) ?? []).map((u) => depthOf(u, seen))) + 1;
    depth.set(n, d);
    return d;
  };
  for (const n of deps.keys()) depthOf(n, new Set());
  const columns: string[][] = [];
  for (const [n, d] of [...depth].sort((a, b) => a[0].localeCompare(b[0]))) (columns[d] ??= []).push(n);
  const pos = new Map<string, { x: number; y: number }>();
  columns.forEach((names, c) => names.forEach((n, r) => pos.set(n, { x: 10 + c * (W + GAP_X), y: 10 + r * (H + GAP_Y) })));
  const width = 20 + columns.length * (W + GAP_X) - GAP_X;
  const height = 20 + Math.max(1, ...columns.map((c) => c.length)) * (H + GAP_Y) - GAP_Y;

  const svg = el('svg', { class: 'graph', width, height, viewBox: `0 0 ${width} ${height}` }) as SVGSVGElement;
  const defs = el('defs', {});
  const marker = el('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 6, markerHeight: 6, orient: 'auto' });
  marker.append(el('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#7a869a' }));
  defs.append(marker);
  svg.append(defs);
  for (const [n, ups] of deps) {
    const to = pos.get(n)!;
    for (const u of ups) {
      const from = pos.get(u)!;
      const x1 = from.x + W;
      const y1 = from.y + H / 2;
      const x2 = to.x;
      const y2 = to.y + H / 2;
      const mid = (x1 + x2) / 2;
      svg.append(el('path', { class: 'edge', 'data-from': u, 'data-to': n, d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`, 'marker-end': 'url(#arrow)' }));
    }
  }
  for (const [n, p] of pos) {
    const link = el('a', { href: `#/datasets/${encodeURIComponent(n)}` });
    const state = states.get(n)?.state;
    const g = el('g', { class: `${inPipeline.has(n) ? 'node' : 'node external'}${state ? ` state-${state.replace(' ', '-')}` : ''}`, 'data-name': n, ...(state ? { 'data-state': state } : {}), transform: `translate(${p.x},${p.y})` });
    const reason = states.get(n)?.stateReason;
    g.append(el('title', {}, `${n}${state ? `: ${state}` : ''}${reason ? ` (${reason})` : ''}`));
    g.append(el('rect', { width: W, height: H, rx: 6 }), el('text', { x: W / 2, y: H / 2 + 4, 'text-anchor': 'middle' }, n.length > 22 ? `${n.slice(0, 21)}…` : n));
    link.append(g);
    svg.append(link);
  }
  return svg;
}
