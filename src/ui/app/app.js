// The lineage explorer. Plain DOM and SVG over the JSON API of src/ui/Api.ts. The DAG is laid out
// on the server; here only the nodes and edges inside the view are drawn, so 10,000 stages pan and
// zoom smoothly. Runs are paginated on the server.
const $ = (sel) => document.querySelector(sel)
const el = (tag, attrs = {}, ...children) => {
  const svg = ["svg", "g", "rect", "text", "path", "polyline", "line", "circle", "defs", "marker", "title"].includes(tag)
  const e = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v)
    else if (v !== undefined && v !== null) e.setAttribute(k, v)
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : document.createTextNode(String(c)))
  return e
}
const api = async (route, params = {}) => {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null))
  const r = await fetch(`/api/${route}?${q}`)
  const body = await r.json()
  if (!r.ok) throw new Error(body.error)
  return body
}
const short = (d) => (typeof d === "string" ? d.slice(0, 12) : "")
const json = (v) => JSON.stringify(v, null, 2)

const state = { pipeline: null, dag: null, view: { x: 0, y: 0, k: 1 }, selected: null, runs: { offset: 0, limit: 50, sort: "startedAt", dir: "desc", filter: "" }, picked: new Set(), comparison: null }

// ---------------------------------------------------------------------------------------------
// Tabs and pipeline choice

const show = (tab) => {
  for (const b of document.querySelectorAll("nav button")) b.classList.toggle("active", b.dataset.tab === tab)
  for (const s of document.querySelectorAll(".tab")) s.classList.toggle("active", s.id === tab)
  if (tab === "runs") loadRuns()
  if (tab === "metrics") loadMetrics()
  if (tab === "dag") drawGraph()
}
for (const b of document.querySelectorAll("nav button")) b.addEventListener("click", () => show(b.dataset.tab))

const init = async () => {
  const o = await api("overview")
  const files = [...new Set([...o.pipelines.map((p) => p.pipeline), ...o.files])]
  const select = $("#pipeline")
  for (const f of files) select.append(el("option", { value: f }, f))
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("pipeline")
  state.pipeline = fromHash && files.includes(fromHash) ? fromHash : files[0] ?? null
  select.value = state.pipeline ?? ""
  select.addEventListener("change", () => {
    state.pipeline = select.value
    state.dag = null
    closePanel()
    loadDag()
  })
  await loadDag()
}

// ---------------------------------------------------------------------------------------------
// The DAG

let poll = null
const loadDag = async () => {
  if (state.pipeline === null) return
  $("#live").textContent = "loading…"
  try {
    const first = state.dag === null
    state.dag = await api("dag", { pipeline: state.pipeline })
    state.byName = new Map(state.dag.nodes.map((n) => [n.name, n]))
    if (first) fit()
    drawGraph()
    const busy = state.dag.nodes.some((n) => n.state === "running") || state.dag.lastRun?.status === "running"
    $("#live").textContent = busy ? "● run in progress (live)" : state.dag.lastRun ? `last run ${state.dag.lastRun.id}: ${state.dag.lastRun.status}` : "no runs yet"
    clearTimeout(poll)
    if (busy) poll = setTimeout(loadDag, 1500)
  } catch (e) {
    $("#live").textContent = e.message
  }
}

const svg = $("#graph")
const fit = () => {
  const r = svg.getBoundingClientRect()
  const k = Math.min(1.2, r.width / (state.dag.width || 1), r.height / (state.dag.height || 1))
  state.view = { x: 10, y: 10, k: Math.max(k, 0.05) }
}

let pending = false
const drawGraph = () => {
  if (pending || state.dag === null) return
  pending = true
  requestAnimationFrame(() => {
    pending = false
    const { x, y, k } = state.view
    const r = svg.getBoundingClientRect()
    // The part of graph space in view, with a margin.
    const x0 = -x / k - 50, y0 = -y / k - 50, x1 = (r.width - x) / k + 50, y1 = (r.height - y) / k + 50
    const inView = (n) => n.x + n.width / 2 >= x0 && n.x - n.width / 2 <= x1 && n.y + n.height / 2 >= y0 && n.y - n.height / 2 <= y1
    const visible = state.dag.nodes.filter(inView)
    const names = new Set(visible.map((n) => n.name))
    const g = el("g", { transform: `translate(${x},${y}) scale(${k})` })
    for (const e of state.dag.edges) {
      if (!names.has(e.from) && !names.has(e.to)) continue
      g.append(el("path", { class: "edge", d: "M" + e.points.map((p) => `${p.x},${p.y}`).join("L") }))
    }
    const labels = k > 0.35
    for (const n of visible) {
      const node = el("g", { class: `node ${n.state}${state.selected === n.name ? " selected" : ""}`, "data-stage": n.name, "data-state": n.state, onclick: () => openStage(n.name) },
        el("rect", { x: n.x - n.width / 2, y: n.y - n.height / 2, width: n.width, height: n.height }),
        labels ? el("text", { x: n.x - n.width / 2 + 10, y: n.y + 4 }, n.name) : null)
      node.append(el("title", {}, `${n.name}: ${n.state}${n.reasons.length ? "\n" + n.reasons.join("\n") : ""}`))
      g.append(node)
    }
    svg.replaceChildren(
      el("defs", {}, el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto" }, el("path", { d: "M0,0L10,5L0,10z", fill: "#999" }))),
      g)
    svg.dataset.drawn = String(visible.length)
  })
}

// Pan and zoom.
let drag = null
svg.addEventListener("mousedown", (e) => { drag = { x: e.clientX, y: e.clientY, vx: state.view.x, vy: state.view.y } })
window.addEventListener("mouseup", () => { drag = null })
window.addEventListener("mousemove", (e) => {
  if (drag === null) return
  state.view = { ...state.view, x: drag.vx + e.clientX - drag.x, y: drag.vy + e.clientY - drag.y }
  drawGraph()
})
svg.addEventListener("wheel", (e) => {
  e.preventDefault()
  const r = svg.getBoundingClientRect()
  const mx = e.clientX - r.left, my = e.clientY - r.top
  const f = Math.exp(-e.deltaY * 0.0015)
  const k = Math.min(4, Math.max(0.02, state.view.k * f))
  state.view = { k, x: mx - (mx - state.view.x) * (k / state.view.k), y: my - (my - state.view.y) * (k / state.view.k) }
  drawGraph()
}, { passive: false })
window.addEventListener("resize", drawGraph)

// ---------------------------------------------------------------------------------------------
// The side panel: a stage, an artifact's lineage

const panel = $("#panel")
const closePanel = () => { panel.classList.remove("open"); state.selected = null; drawGraph() }
const openPanel = (...children) => {
  panel.replaceChildren(el("button", { style: "float:right", onclick: closePanel }, "×"), ...children.filter((c) => c !== null && c !== undefined))
  panel.classList.add("open")
}
const digestLink = (d) => el("a", { class: "digest", "data-digest": d, onclick: () => openLineage(d) }, short(d))
const kvTable = (rows) => el("table", { class: "kv" }, rows.map(([k, v]) => el("tr", {}, el("td", {}, k), el("td", {}, v))))

const openStage = async (name) => {
  state.selected = name
  drawGraph()
  const s = await api("stage", { pipeline: state.pipeline, stage: name })
  const node = state.byName.get(name)
  const prev = s.previous
  const parts = [
    el("h2", { "data-testid": "stage-name" }, s.stage),
    el("span", { class: `state ${node?.state ?? s.state}` }, node?.state ?? s.state),
    s.description ? el("p", {}, s.description) : null,
    el("h3", {}, "Why"),
    s.reasons.length === 0 ? el("p", {}, "up to date: its key matches a stored result") : el("ul", { "data-testid": "why" }, s.reasons.map((r) => el("li", {}, `${r.reason}: ${r.detail}`))),
    el("h3", {}, "Params"),
    el("pre", { "data-testid": "params" }, json(s.params)),
    el("h3", {}, "Inputs"),
    kvTable(Object.entries(s.inputs).map(([k, i]) => [`${k} (${i.kind})`, el("span", {}, digestLink(i.digest), ` ${i.from ?? ""}`)])),
    el("h3", {}, "Outputs"),
    kvTable(Object.entries(s.outputs).map(([k, o]) => [`${k} (${o.kind})`, el("span", {}, digestLink(o.digest), ` ${o.size} B`)])),
    el("details", {}, el("summary", {}, `Code: ${Object.keys(s.code.modules ?? {}).length} modules, ${Object.keys(s.code.packages ?? {}).length} packages`),
      kvTable([...Object.entries(s.code.modules ?? {}).map(([m, d]) => [m, short(d)]), ...Object.entries(s.code.packages ?? {}).map(([p, v]) => [p, v])])),
    el("h3", {}, "Key"), el("code", {}, s.key ?? "(unknown until upstream stages run)"),
    prev ? el("div", {},
      el("h3", {}, "Last execution"),
      kvTable([["run", prev.run], ["started", prev.startedAt], ["took", `${(prev.durationMs / 1000).toFixed(2)} s`], ["key", short(prev.key)]]),
      el("h3", {}, "Log"), el("pre", { "data-testid": "log" }, prev.log.join("\n") || "(no log)")) : null
  ]
  openPanel(...parts)
  if (prev) {
    const curves = (await api("curves", { run: prev.run })).filter((c) => c.stage === name)
    for (const c of curves) panel.append(el("h3", {}, `Loss (${c.output})`), linePlot(c.points, { width: 400, height: 160 }))
    const gallery = await api("gallery", { key: prev.key, limit: 24 })
    if (gallery.length > 0) panel.append(el("h3", {}, "Predictions (green: truth, pink: prediction)"), galleryOf(gallery))
    const pairs = await api("bootstrap", { key: prev.key, limit: 300 })
    if (pairs.length > 0) panel.append(el("h3", {}, `Bootstrap pairs: ${pairs.filter((p) => p.kept).length} of ${pairs.length} kept${pairs.length === 300 ? " (the first 300 candidates)" : ""}`), pairsTable(pairs))
  }
}

const galleryOf = (rows) => el("div", { class: "gallery", "data-testid": "gallery" }, rows.map((p) => {
  const canvas = el("canvas", { width: 128, height: 128 })
  const img = new Image()
  img.onload = () => {
    const c = canvas.getContext("2d")
    c.drawImage(img, 0, 0, 128, 128)
    const box = (b, colour) => { if (!b) return; c.strokeStyle = colour; c.lineWidth = 2; c.strokeRect(b[0] * 128, b[1] * 128, (b[2] - b[0]) * 128, (b[3] - b[1]) * 128) }
    box(p.truth, "#2e7d32")
    box(p.parsed, "#e91e63")
  }
  img.src = p.src
  return el("figure", {}, canvas, el("figcaption", {}, el("span", { class: p.correct ? "ok" : "bad" }, p.correct ? "✓ " : "✗ "), p.prompt ?? "", el("br"), p.generated ?? ""))
}))

const pairsTable = (pairs) => el("table", { "data-testid": "pairs" },
  el("tr", {}, el("th", {}, "category"), el("th", {}, "description"), el("th", {}, "grounded"), el("th", {}, "IoU"), el("th", {}, "kept")),
  pairs.map((p) => el("tr", {}, el("td", {}, p.category), el("td", {}, p.description), el("td", {}, p.grounded), el("td", {}, p.iou === null ? "–" : p.iou.toFixed(2)), el("td", { class: p.kept ? "ok" : "bad" }, p.kept ? "kept" : "rejected"))))

const openLineage = async (digest) => {
  const l = await api("lineage", { digest })
  const up = (u) => el("li", {}, digestLink(u.digest), ` ${u.kind}`,
    u.producer ? el("span", {}, ` ← ${u.producer.stage}.${u.producer.output} (run ${u.producer.run})`, el("ul", { class: "tree" }, u.producer.inputs.map((i) => el("li", {}, `${i.input}: `, el("ul", { class: "tree" }, up(i.artifact)))))) : u.source ? ` (project file ${u.source})` : null)
  const down = (d) => el("li", {}, `→ ${d.stage} (input ${d.input})${d.repeat ? " (shown above)" : ""}`, el("ul", { class: "tree" }, d.outputs.map((o) => el("li", {}, `${o.output}: `, digestLink(o.digest), el("ul", { class: "tree" }, o.derived.map(down))))))
  openPanel(
    el("h2", {}, "Artifact ", el("code", {}, short(digest))),
    l.info ? el("p", {}, `${l.info.kind}, ${l.info.size} B, made by ${l.info.producer.stage}.${l.info.producer.output}`) : null,
    el("p", {}, el("a", { href: `/api/blob/${digest}`, target: "_blank" }, "open")),
    el("h3", {}, "Upstream (what produced it)"), el("ul", { class: "tree", "data-testid": "upstream" }, up(l.upstream)),
    el("h3", {}, "Downstream (what derives from it)"), el("ul", { class: "tree", "data-testid": "downstream" }, l.downstream.length ? l.downstream.map(down) : el("li", {}, "nothing yet")))
}

// ---------------------------------------------------------------------------------------------
// Runs, comparison, metrics

const RUN_COLUMNS = [["", null], ["run", "id"], ["pipeline", "pipeline"], ["variant", "variant"], ["status", "status"], ["ran", "ran"], ["cached", "cached"], ["failed", "failed"], ["started", "startedAt"], ["pinned", "pinned"]]
const loadRuns = async () => {
  const q = state.runs
  const page = await api("runs", { offset: q.offset, limit: q.limit, sort: q.sort, dir: q.dir, filter: q.filter })
  $("#run-page").textContent = `${page.total === 0 ? 0 : page.offset + 1}–${page.offset + page.rows.length} of ${page.total}`
  state.runsTotal = page.total
  $("#run-table").replaceChildren(
    el("tr", {}, RUN_COLUMNS.map(([label, key]) => el("th", { onclick: () => { if (!key) return; q.dir = q.sort === key && q.dir === "desc" ? "asc" : "desc"; q.sort = key; loadRuns() } }, label + (q.sort === key ? (q.dir === "desc" ? " ▾" : " ▴") : "")))),
    ...page.rows.map((r) => {
      const box = el("input", { type: "checkbox", "data-run": r.id, onchange: (e) => e.target.checked ? state.picked.add(r.id) : state.picked.delete(r.id) })
      box.checked = state.picked.has(r.id)
      return el("tr", { "data-run": r.id }, el("td", {}, box), el("td", {}, el("code", {}, r.id)), el("td", {}, r.pipeline), el("td", {}, r.variant || "–"), el("td", {}, el("span", { class: `state ${r.status === "succeeded" ? "cached" : r.status === "running" ? "running" : "failed"}` }, r.status)), el("td", {}, r.ran), el("td", {}, r.cached), el("td", {}, r.failed), el("td", {}, r.startedAt), el("td", {}, r.pinned ? "yes" : ""))
    }))
}
let filterTimer = null
$("#run-filter").addEventListener("input", (e) => { clearTimeout(filterTimer); filterTimer = setTimeout(() => { state.runs.filter = e.target.value; state.runs.offset = 0; loadRuns() }, 200) })
$("#run-prev").addEventListener("click", () => { state.runs.offset = Math.max(0, state.runs.offset - state.runs.limit); loadRuns() })
$("#run-next").addEventListener("click", () => { if (state.runs.offset + state.runs.limit < state.runsTotal) { state.runs.offset += state.runs.limit; loadRuns() } })
$("#compare-selected").addEventListener("click", async () => {
  if (state.picked.size < 2) return alert("pick at least two runs")
  state.comparison = await api("compare", { runs: [...state.picked].join(",") })
  show("compare")
  drawComparison()
})

let compareSort = { by: "name", dir: 1 }
const drawComparison = () => {
  const c = state.comparison
  if (c === null) return
  const only = $("#only-diff").checked
  const needle = $("#compare-filter").value.toLowerCase()
  const rows = c.rows.filter((r) => (!only || r.differs) && `${r.section} ${r.name}`.toLowerCase().includes(needle))
  rows.sort((a, b) => (compareSort.by === "differs" ? (Number(b.differs) - Number(a.differs)) : `${a.section} ${a.name}`.localeCompare(`${b.section} ${b.name}`)) * compareSort.dir)
  const cell = (v) => (v === undefined ? "–" : typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : JSON.stringify(v))
  $("#compare-table").replaceChildren(
    el("tr", {}, el("th", { onclick: () => { compareSort = { by: "name", dir: compareSort.by === "name" ? -compareSort.dir : 1 }; drawComparison() } }, "param / metric"), c.runs.map((r) => el("th", {}, `${r.id}${r.variant ? ` [${r.variant}]` : ""}`)), el("th", { onclick: () => { compareSort = { by: "differs", dir: compareSort.by === "differs" ? -compareSort.dir : 1 }; drawComparison() } }, "differs")),
    ...rows.map((r) => el("tr", { class: r.differs ? "differs" : "" }, el("td", {}, `${r.section} ${r.name}`), r.values.map((v) => el("td", {}, cell(v))), el("td", {}, r.differs ? "*" : ""))))
}
$("#only-diff").addEventListener("change", drawComparison)
$("#compare-filter").addEventListener("input", drawComparison)

const loadMetrics = async () => {
  const runs = await api("metrics", { pipeline: state.pipeline })
  const names = [...new Set(runs.flatMap((r) => Object.keys(r.values)))].sort()
  const needle = $("#metric-filter").value.toLowerCase()
  const shown = names.filter((n) => n.toLowerCase().includes(needle)).slice(0, 48)
  $("#metric-plots").replaceChildren(...(shown.length === 0 ? [el("p", {}, "no metrics in this pipeline's runs")] : shown.map((n) => {
    const points = runs.map((r, i) => [i + 1, r.values[n]]).filter(([, v]) => typeof v === "number")
    return el("div", { class: "plot" }, el("div", {}, n), linePlot(points, { width: 300, height: 120, xLabel: "run" }))
  })))
}
$("#metric-filter").addEventListener("input", loadMetrics)

/** A small SVG line plot of [x, y] points. */
const linePlot = (points, { width, height, xLabel = "step" }) => {
  const pad = 28
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1])
  const [xmin, xmax] = [Math.min(...xs), Math.max(...xs)], [ymin, ymax] = [Math.min(...ys), Math.max(...ys)]
  const sx = (x) => pad + ((x - xmin) / (xmax - xmin || 1)) * (width - pad - 6)
  const sy = (y) => height - pad + 6 - ((y - ymin) / (ymax - ymin || 1)) * (height - pad - 6)
  return el("svg", { width, height, class: "plot-svg" },
    el("line", { x1: pad, y1: height - pad + 6, x2: width - 6, y2: height - pad + 6, stroke: "#bbb" }),
    el("line", { x1: pad, y1: 0, x2: pad, y2: height - pad + 6, stroke: "#bbb" }),
    el("polyline", { fill: "none", stroke: "#c2185b", "stroke-width": 1.5, points: points.map((p) => `${sx(p[0])},${sy(p[1])}`).join(" ") }),
    points.length < 40 ? points.map((p) => el("circle", { cx: sx(p[0]), cy: sy(p[1]), r: 2.5, fill: "#c2185b" })) : null,
    el("text", { x: 2, y: 10 }, ymax.toPrecision(3)), el("text", { x: 2, y: height - pad + 6 }, ymin.toPrecision(3)),
    el("text", { x: width - 60, y: height - 4 }, `${xLabel} ${xmax}`))
}

init()
