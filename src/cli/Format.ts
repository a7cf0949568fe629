/**
 * Text layouts for `dag`, `why` and `lineage`.
 */
import * as CacheKey from "../core/CacheKey.ts"
import type * as Dag from "../core/Dag.ts"
import * as Digest from "../core/Digest.ts"
import type * as Query from "../core/Query.ts"

const quote = (s: string) => JSON.stringify(s)

/** `order` is the DAG's topological order, as `Dag.make` computed it. */
export const render = (dag: Dag.Dag, order: ReadonlyArray<string>, format: "text" | "dot" | "mermaid" | "json"): string => {
  const edges = dag.edges().flatMap((e) => dag.edge(e)!.map((w) => ({ from: e.v, to: e.w, output: w.output, input: w.input })))
  switch (format) {
    case "json":
      return JSON.stringify({
        stages: order.map((name) => {
          const s = dag.node(name)
          return {
            name,
            module: s.module ?? null,
            inputs: Object.fromEntries(Object.entries(s.inputs).map(([k, i]) => [k, i._tag === "FromProject" ? { kind: i.kind, path: i.path } : { kind: i.kind, stage: i.stage, output: i.output }])),
            outputs: Object.fromEntries(Object.entries(s.outputs).map(([k, o]) => [k, o.kind])),
            resources: s.resources
          }
        }),
        edges
      })
    case "dot":
      return [
        "digraph pipeline {",
        "  rankdir=LR;",
        ...order.map((n) => `  ${quote(n)};`),
        ...edges.map((e) => `  ${quote(e.from)} -> ${quote(e.to)} [label=${quote(`${e.output} → ${e.input}`)}];`),
        "}"
      ].join("\n")
    case "mermaid": {
      const id = new Map(order.map((n, i) => [n, `s${i}`]))
      return [
        "flowchart LR",
        ...order.map((n) => `  ${id.get(n)}["${n}"]`),
        ...edges.map((e) => `  ${id.get(e.from)} -- "${e.output} → ${e.input}" --> ${id.get(e.to)}`)
      ].join("\n")
    }
    case "text":
      return order.map((n) => {
        const s = dag.node(n)
        const ins = Object.entries(s.inputs).map(([k, i]) => `${k} ← ${i._tag === "FromProject" ? i.path : `${i.stage}.${i.output}`}`)
        const outs = Object.entries(s.outputs).map(([k, o]) => `${k}: ${o.kind}`)
        return `${n}\n  in:  ${ins.join(", ") || "-"}\n  out: ${outs.join(", ") || "-"}`
      }).join("\n")
  }
}

/** The last and current key records, field by field, changed fields marked with `*`. */
export const sideBySide = (before: CacheKey.KeyRecord, after: CacheKey.KeyRecord): Array<string> => {
  const changed = new Set(CacheKey.diff(before, after).map((c) => `${c.reason} ${c.what}`))
  const rows: Array<[string, string, string]> = []
  const add = (label: string, b: unknown, a: unknown) => {
    const show = (v: unknown) => v === undefined ? "-" : typeof v === "string" ? (Digest.isDigest(v) ? Digest.short(v) : v) : JSON.stringify(v)
    rows.push([label, show(b), show(a)])
  }
  add("version", before.version, after.version)
  const keys = (x: object, y: object) => [...new Set([...Object.keys(x), ...Object.keys(y)])].sort()
  for (const m of keys(before.code.modules, after.code.modules)) add(`code ${m}`, before.code.modules[m], after.code.modules[m])
  for (const p of keys(before.code.packages, after.code.packages)) add(`code package ${p}`, before.code.packages[p], after.code.packages[p])
  const bp = (before.params ?? {}) as Record<string, unknown>
  const ap = (after.params ?? {}) as Record<string, unknown>
  for (const p of keys(bp, ap)) add(`params ${p}`, bp[p], ap[p])
  for (const i of keys(before.inputs, after.inputs)) add(`input ${i}`, before.inputs[i]?.digest, after.inputs[i]?.digest)
  for (const e of keys(before.env, after.env)) add(`env ${e}`, before.env[e], after.env[e])
  const w0 = Math.max(5, ...rows.map((r) => r[0].length))
  const w1 = Math.max(8, ...rows.map((r) => r[1].length))
  const isChanged = (label: string) => [...changed].some((c) => label === c || label.startsWith(`${c}`))
  return [
    `  ${"field".padEnd(w0)}  ${"last run".padEnd(w1)}  current`,
    ...rows.map(([l, b, a]) => `${isChanged(l) || b !== a ? "*" : " "} ${l.padEnd(w0)}  ${b.padEnd(w1)}  ${a}`)
  ]
}

/** Upstream lineage as an indented tree; a subtree already printed is referred to, not repeated. */
export const upstreamLines = (node: Query.Upstream, indent: string, seen = new Set<string>()): Array<string> => {
  const head = `${indent}${Digest.short(node.digest)} (${node.kind})`
  if (node.producer === undefined) return [`${head} ← ${node.source === undefined ? "unknown origin" : `project ${node.source}`}`]
  const p = node.producer
  if (seen.has(node.digest)) return [`${head} ← ${p.stage}.${p.output} (shown above)`]
  seen.add(node.digest)
  const modules = Object.keys(p.code)
  const lines = [
    `${head} ← ${p.stage}.${p.output}  key ${Digest.short(p.key)}  run ${p.run}${p.substitute === undefined ? "" : `  (from substitute ${p.substitute})`}`,
    `${indent}  params ${JSON.stringify(p.params)}`,
    `${indent}  code   ${Digest.short(Digest.ofJson(p.code))} (${modules.length} modules: ${modules.join(" ")})`
  ]
  if (Object.keys(p.packages).length > 0) lines.push(`${indent}  pkgs   ${Object.entries(p.packages).map(([k, v]) => `${k}@${v}`).join(" ")}`)
  if (Object.keys(p.env).length > 0) lines.push(`${indent}  env    ${JSON.stringify(p.env)}`)
  for (const i of p.inputs) {
    lines.push(`${indent}  input ${i.input} (${i.from}):`)
    lines.push(...upstreamLines(i.artifact, `${indent}    `, seen))
  }
  return lines
}

export const downstreamLines = (nodes: ReadonlyArray<Query.Downstream>, indent: string): Array<string> =>
  nodes.flatMap((n) => [
    `${indent}→ ${n.stage} (input ${n.input}, key ${Digest.short(n.key)})${n.repeat ? " (shown above)" : ""}`,
    ...n.outputs.flatMap((o) => [
      `${indent}    ${n.stage}.${o.output} = ${Digest.short(o.digest)} (${o.kind})`,
      ...downstreamLines(o.derived, `${indent}      `)
    ])
  ])
