/** A time-series chart drawn by uPlot (canvas), with its figures also given as text for screen readers. */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Line { label: string; values: (number | null)[]; color: string; scale?: string }

const PALETTE = ['#1d4ed8', '#047857', '#b45309', '#7c3aed', '#be123c', '#0e7490', '#4d7c0f', '#a21caf', '#334155', '#c2410c'];
export const color = (i: number) => PALETTE[i % PALETTE.length]!;

export function Chart({ title, times, lines, unit, height = 220 }: { title: string; times: number[]; lines: Line[]; unit?: string; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const percent = unit === '%';
    const opts: uPlot.Options = {
      width: Math.max(280, el.clientWidth),
      height,
      series: [{}, ...lines.map((l) => ({ label: l.label, stroke: l.color, width: 2, points: { show: times.length < 60 }, value: (_u: uPlot, v: number | null) => (v === null ? '—' : percent ? `${(v * 100).toFixed(1)} %` : `${+v.toFixed(2)}${unit ? ` ${unit}` : ''}`) }))],
      axes: [{}, { values: (_u, vals) => vals.map((v) => (percent ? `${Math.round(v * 100)} %` : String(+v.toFixed(2)))), size: 56 }],
      scales: { x: { time: true }, y: percent ? { range: [0, 1] } : { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } },
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    };
    const plot = new uPlot(opts, [times.map((t) => t / 1000), ...lines.map((l) => l.values)] as uPlot.AlignedData, el);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(280, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [times, lines, unit, height]);
  const total = (l: Line) => l.values.reduce<number>((s, v) => s + (v ?? 0), 0);
  const summary = unit === '%' ? '' : lines.map((l) => `${l.label}: ${+total(l).toFixed(2)} in all`).join('; ');
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} class="chart-canvas" role="img" aria-label={`${title}. ${summary}`} data-testid="chart" />
    </figure>
  );
}
