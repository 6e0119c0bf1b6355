/**
 * Offline SVG line charts for the benchmark report (no dependencies, no network).
 */

export interface Series {
  name: string
  points: [number, number][]
}

export interface ChartOptions {
  title: string
  xLabel: string
  yLabel: string
  /** Logarithmic axes (values must be > 0). */
  xLog?: boolean
  yLog?: boolean
  series: Series[]
  width?: number
  height?: number
}

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf']

/** Escapes text for use in SVG content and attributes. */
export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c)
}

function niceTicks(lo: number, hi: number, log: boolean): number[] {
  if (log) {
    const ticks: number[] = []
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) ticks.push(10 ** e)
    return ticks.filter((t) => t >= lo / 1.0001 && t <= hi * 1.0001)
  }
  const span = hi - lo || 1
  const step = 10 ** Math.floor(Math.log10(span / 5))
  const mult = [1, 2, 5, 10].find((m) => span / (step * m) <= 6) ?? 10
  const s = step * mult
  const ticks: number[] = []
  for (let t = Math.ceil(lo / s) * s; t <= hi + s * 1e-9; t += s) ticks.push(Number(t.toPrecision(12)))
  return ticks
}

function label(v: number): string {
  if (Math.abs(v) >= 1000) return `${Number((v / 1000).toPrecision(3))}k`
  return String(Number(v.toPrecision(3)))
}

/** A line chart with markers, axes, ticks and a legend, as a standalone SVG document. */
export function lineChart(o: ChartOptions): string {
  const W = o.width ?? 640
  const H = o.height ?? 400
  const m = { l: 70, r: 170, t: 40, b: 50 }
  const all = o.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
  const xs = all.map((p) => p[0])
  const ys = all.map((p) => p[1])
  const pad = (lo: number, hi: number, log: boolean): [number, number] =>
    log ? [lo / 1.2, hi * 1.2] : lo === hi ? [lo - 1, hi + 1] : [lo - (hi - lo) * 0.05, hi + (hi - lo) * 0.05]
  const [x0, x1] = all.length ? pad(Math.min(...xs), Math.max(...xs), !!o.xLog) : [0, 1]
  const [y0, y1] = all.length ? pad(Math.min(...ys), Math.max(...ys), !!o.yLog) : [0, 1]
  const tx = (v: number, lo: number, hi: number, log: boolean) =>
    log ? (Math.log(v) - Math.log(lo)) / (Math.log(hi) - Math.log(lo)) : (v - lo) / (hi - lo)
  const px = (x: number) => m.l + tx(x, x0, x1, !!o.xLog) * (W - m.l - m.r)
  const py = (y: number) => H - m.b - tx(y, y0, y1, !!o.yLog) * (H - m.t - m.b)
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect x="0" y="0" width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(o.title)}</text>`,
    `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="black"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="black"/>`,
  ]
  for (const t of niceTicks(x0, x1, !!o.xLog)) {
    const x = px(t).toFixed(1)
    out.push(`<line x1="${x}" y1="${H - m.b}" x2="${x}" y2="${H - m.b + 5}" stroke="black"/>`)
    out.push(`<text x="${x}" y="${H - m.b + 18}" text-anchor="middle">${label(t)}</text>`)
  }
  for (const t of niceTicks(y0, y1, !!o.yLog)) {
    const y = py(t).toFixed(1)
    out.push(`<line x1="${m.l - 5}" y1="${y}" x2="${W - m.r}" y2="${y}" stroke="#ddd"/>`)
    out.push(`<text x="${m.l - 8}" y="${y}" text-anchor="end" dominant-baseline="middle">${label(t)}</text>`)
  }
  out.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 12}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`)
  out.push(
    `<text x="16" y="${(m.t + H - m.b) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(m.t + H - m.b) / 2})">${escapeXml(o.yLabel)}</text>`,
  )
  o.series.forEach((s, i) => {
    const c = COLOURS[i % COLOURS.length]
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
    if (pts.length > 1) {
      out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`)
    }
    for (const [x, y] of pts) out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${c}"/>`)
    const ly = m.t + 10 + i * 20
    out.push(`<rect x="${W - m.r + 15}" y="${ly - 6}" width="14" height="3" fill="${c}"/>`)
    out.push(`<text x="${W - m.r + 35}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`)
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}
