/**
 * The Pink report: a self-contained HTML page and a markdown summary with the results table laid
 * out like the paper's RC table (our models, each ablation, and the paper's numbers for
 * reference), the paper's claims as differences with 95 % intervals, loss curves of every training stage, the bootstrap survival rate, trainable
 * parameter counts, and a gallery of evaluation images with predicted and true boxes drawn.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import type * as Box from "../data/Box.ts"
import * as Claims from "./Claims.ts"
import * as Raster from "../data/Raster.ts"

export interface ModelResult {
  readonly name: string
  readonly note: string
  readonly metrics: Readonly<Record<string, number>>
  readonly trainable: number | undefined
}

export interface Curve {
  readonly stage: string
  readonly points: ReadonlyArray<readonly [number, number]>
}

export interface Input {
  readonly models: ReadonlyArray<ModelResult>
  readonly curves: ReadonlyArray<Curve>
  readonly bootstrap: { readonly candidates: number; readonly kept: number; readonly survival: number; readonly perCategory: Readonly<Record<string, { kept: number; total: number; rate: number }>> } | undefined
  /** The paper's claims on REC, each a difference with its 95 % interval (Claims.ts). */
  readonly claims: ReadonlyArray<Claims.Claim>
  readonly totalParameters: number | undefined
  /** REC predictions to draw: eval directory and predictions of the model shown. */
  readonly gallery: { readonly evalDir: string; readonly model: string; readonly predictions: ReadonlyArray<{ readonly image: string; readonly prompt: string; readonly generated: string; readonly parsed: unknown; readonly truth: unknown; readonly correct: boolean }> } | undefined
}

/** The paper's numbers (original scale), for reference only. */
export const PAPER = [
  { name: "Shikra-7B (paper)", rec: [87.0, 90.6, 80.2], v7w: 84.3, pointqa: 72.1 },
  { name: "Pink (paper)", rec: [88.3, 91.7, 84.0], v7w: 85.1, pointqa: 73.5 },
  { name: "Pink* (paper)", rec: [88.7, 92.1, 84.0], v7w: 85.3, pointqa: 73.6 }
] as const

const pct = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? "–" : (v * 100).toFixed(1))

const COLUMNS = ["REC val", "REC testA", "REC testB", "V7W", "PointQA", "counting", "relation", "short answer", "format errors", "trainable params"]

const row = (m: ModelResult) => [
  pct(m.metrics["rec/val"]), pct(m.metrics["rec/testA"]), pct(m.metrics["rec/testB"]), pct(m.metrics["acc/v7w"]), pct(m.metrics["acc/pointqa"]),
  pct(m.metrics["acc/counting"]), pct(m.metrics["acc/relation"]), pct(m.metrics["acc/short-answer"]), pct(m.metrics["formatErrorRate"]),
  m.trainable === undefined ? "–" : m.trainable.toLocaleString("en-US")
]

/** The results table in markdown. */
export const table = (models: ReadonlyArray<ModelResult>): string => {
  const lines = [
    `| model | ${COLUMNS.join(" | ")} |`,
    `|---|${COLUMNS.map(() => "---").join("|")}|`,
    ...models.map((m) => `| ${m.name} | ${row(m).join(" | ")} |`),
    ...PAPER.map((p) => `| ${p.name} | ${p.rec.map((x) => x.toFixed(1)).join(" | ")} | ${p.v7w.toFixed(1)} | ${p.pointqa.toFixed(1)} | – | – | – | – | 6.7M / 7B |`)
  ]
  return lines.join("\n")
}

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

const svgCurve = (c: Curve) => {
  const w = 360
  const h = 160
  if (c.points.length === 0) return ""
  const xs = c.points.map((p) => p[0])
  const ys = c.points.map((p) => p[1])
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)]
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)]
  const sx = (x: number) => 30 + ((x - x0) / Math.max(1e-9, x1 - x0)) * (w - 40)
  const sy = (y: number) => 10 + (1 - (y - y0) / Math.max(1e-9, y1 - y0)) * (h - 30)
  const pts = c.points.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" ")
  return `<figure><svg width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="loss of ${escape(c.stage)}">
<rect x="0" y="0" width="${w}" height="${h}" fill="#fff" stroke="#ccc"/>
<polyline fill="none" stroke="#c0157d" stroke-width="1.5" points="${pts}"/>
<text x="4" y="14" font-size="10">${y1.toFixed(2)}</text><text x="4" y="${h - 22}" font-size="10">${y0.toFixed(2)}</text>
<text x="30" y="${h - 6}" font-size="10">step ${x0}</text><text x="${w - 70}" y="${h - 6}" font-size="10">step ${x1}</text>
</svg><figcaption>${escape(c.stage)}: loss ${ys[0]!.toFixed(3)} → ${ys.at(-1)!.toFixed(3)}</figcaption></figure>`
}

/** Draws the truth (green) and the prediction (magenta) on an evaluation image. */
const drawn = (file: string, truth: Box.Norm, predicted: Box.Norm | null): Buffer => {
  const img = Raster.read(file)
  const box = (b: Box.Norm, colour: Raster.Rgb) =>
    Raster.outline(img, b[0] * img.width, b[1] * img.height, (b[2] - b[0]) * img.width, (b[3] - b[1]) * img.height, colour, 2)
  box(truth, [0, 170, 60])
  if (predicted !== null) box(predicted, [220, 0, 200])
  return Raster.encodePng(img)
}

/** Writes index.html, summary.md and gallery/*.png into `out`; returns the markdown summary. */
export const write = (out: string, input: Input): string => {
  const md: Array<string> = ["# Pink, in miniature", "", table(input.models), ""]
  for (const m of input.models) md.push(`- **${m.name}**: ${m.note}`)
  if (input.claims.length > 0) {
    md.push("", "The paper's claims on REC (all splits; difference in accuracy, 95 % paired bootstrap interval over items):", "")
    for (const c of input.claims) md.push(`- ${c.name}: ${Claims.describe(c)}`)
  }
  if (input.bootstrap !== undefined) {
    md.push("", `Bootstrapping kept ${input.bootstrap.kept} of ${input.bootstrap.candidates} described boxes (survival ${pct(input.bootstrap.survival)} %).`)
    const categories = Object.entries(input.bootstrap.perCategory)
    if (categories.length > 0) md.push("", `Kept per category: ${categories.map(([k, v]) => `${k} ${v.kept}/${v.total}`).join(", ")}.`)
  }
  if (input.totalParameters !== undefined) md.push("", `Model size: ${input.totalParameters.toLocaleString("en-US")} parameters.`)
  const summary = md.join("\n") + "\n"
  fs.writeFileSync(path.join(out, "summary.md"), summary)

  const gallery: Array<string> = []
  if (input.gallery !== undefined) {
    fs.mkdirSync(path.join(out, "gallery"), { recursive: true })
    input.gallery.predictions.slice(0, 12).forEach((p, i) => {
      const png = drawn(path.join(input.gallery!.evalDir, p.image), p.truth as Box.Norm, (p.parsed as Box.Norm | null) ?? null)
      fs.writeFileSync(path.join(out, "gallery", `${i}.png`), png)
      gallery.push(`<figure class="${p.correct ? "ok" : "bad"}"><img src="data:image/png;base64,${png.toString("base64")}" alt="evaluation image ${i}"><figcaption>${escape(p.prompt)}<br><code>${escape(p.generated)}</code> ${p.correct ? "✔" : "✘"}</figcaption></figure>`)
    })
  }
  const htmlTable = `<table><thead><tr><th>model</th>${COLUMNS.map((c) => `<th>${c}</th>`).join("")}</tr></thead><tbody>${
    input.models.map((m) => `<tr><th>${escape(m.name)}</th>${row(m).map((c) => `<td>${c}</td>`).join("")}</tr>`).join("")
  }${PAPER.map((p) => `<tr class="paper"><th>${p.name}</th>${[...p.rec, p.v7w, p.pointqa].map((x) => `<td>${x.toFixed(1)}</td>`).join("")}<td colspan="4">–</td><td>6.7M / 7B</td></tr>`).join("")}</tbody></table>`
  const boot = input.bootstrap === undefined ? "" : `<h2>Bootstrapping</h2><p>Kept ${input.bootstrap.kept} of ${input.bootstrap.candidates} (${pct(input.bootstrap.survival)} %).</p><table><tr><th>category</th><th>kept</th><th>total</th><th>rate</th></tr>${
    Object.entries(input.bootstrap.perCategory).map(([k, v]) => `<tr><td>${escape(k)}</td><td>${v.kept}</td><td>${v.total}</td><td>${pct(v.rate)} %</td></tr>`).join("")
  }</table>`
  const claims = input.claims.length === 0 ? "" : `<h2>The paper's claims (REC)</h2><table><tr><th>claim</th><th>difference (points)</th><th>95 % interval</th><th>items</th></tr>${
    input.claims.map((c) => `<tr><td>${escape(c.name)}</td><td>${(c.difference * 100).toFixed(1)}</td><td>[${(c.low * 100).toFixed(1)}, ${(c.high * 100).toFixed(1)}]</td><td>${c.n}</td></tr>`).join("")
  }</table>`
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Pink report</title><style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th:first-child{text-align:left}tr.paper{color:#777}figure{display:inline-block;margin:6px;vertical-align:top;max-width:260px}figure.bad figcaption{color:#a00}
img{image-rendering:pixelated;max-width:256px}code{font-size:12px}</style></head><body>
<h1>Pink, in miniature</h1><p>Accuracy in % on held-out generated splits; the paper's rows are its own numbers at 7B scale, for reference.</p>
${htmlTable}<ul>${input.models.map((m) => `<li><b>${escape(m.name)}</b>: ${escape(m.note)}</li>`).join("")}</ul>
${claims}
<h2>Training loss</h2>${input.curves.map(svgCurve).join("")}
${boot}
<h2>Gallery${input.gallery === undefined ? "" : ` (${escape(input.gallery.model)}, REC)`}</h2><p>Green: ground truth; magenta: prediction.</p>${gallery.join("")}
</body></html>`
  fs.writeFileSync(path.join(out, "index.html"), html)
  return summary
}
