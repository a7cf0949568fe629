/**
 * The pipeline as a graphlib graph, validated before anything runs.
 *
 * Nodes are stage names (labelled with the stage), edges run producer → consumer and are
 * labelled with the wiring. Validation reports, as one `PipelineError` each: duplicate stage
 * names, inputs that name an unknown stage or output or the wrong kind, project files that do
 * not exist, and cycles with their path.
 */
import { Graph } from "@dagrejs/graphlib"
import * as fs from "node:fs"
import * as path from "node:path"
import { PipelineError, type Reason } from "./PipelineError.ts"
import type * as Pipeline from "./Pipeline.ts"
import type * as Stage from "./Stage.ts"

export { PipelineError, type Reason } from "./PipelineError.ts"

export interface Edge {
  readonly input: string
  readonly output: string
}

export type Dag = Graph<string, Stage.Any, Array<Edge>>


/** Builds and validates the graph. `file` names the pipeline in errors; `root` anchors project paths. */
export const make = (
  pipeline: Pipeline.Pipeline,
  file: string,
  root: string
): { readonly ok: true; readonly dag: Dag; readonly order: ReadonlyArray<string> } | { readonly ok: false; readonly error: PipelineError } => {
  const fail = (reason: Reason, detail: string, stage?: string) =>
    ({ ok: false, error: new PipelineError({ reason, file, stage, detail }) }) as const
  const g: Dag = new Graph({ directed: true })
  // Checked here as well as by the types, for pipelines written in plain JavaScript.
  for (const [i, stage] of pipeline.stages.entries()) {
    if (typeof stage !== "object" || stage === null || (stage as { _tag?: unknown })._tag !== "Stage") {
      return fail("invalid-stage", `stages[${i}] is not a stage (make stages with Stage.make)`)
    }
    const bad = Object.entries(stage.inputs).find(([, spec]) => {
      const tag = (spec as { _tag?: unknown } | null)?._tag
      return tag !== "FromStage" && tag !== "FromProject"
    })
    if (bad !== undefined) return fail("invalid-stage", `input ${bad[0]}: not an input (use Input.file, Input.json, …)`, stage.name)
  }
  for (const stage of pipeline.stages) {
    const existing = g.node(stage.name)
    if (existing === stage) continue
    if (existing !== undefined) return fail("duplicate-stage", `duplicate stage name "${stage.name}"`)
    g.setNode(stage.name, stage)
  }
  const edges = new Map<string, Array<Edge>>()
  for (const stage of pipeline.stages) {
    for (const [input, spec] of Object.entries(stage.inputs)) {
      if (spec._tag === "FromProject") {
        const full = path.resolve(root, spec.path)
        const st = fs.statSync(full, { throwIfNoEntry: false })
        if (st === undefined) return fail("missing-file", `input ${input}: project ${spec.kind} ${spec.path} does not exist`, stage.name)
        if (spec.kind === "directory" ? !st.isDirectory() : !st.isFile()) {
          return fail("missing-file", `input ${input}: ${spec.path} is not a ${spec.kind}`, stage.name)
        }
        continue
      }
      const producer = g.node(spec.stage)
      if (producer === undefined) {
        return fail("unknown-input", `input ${input}: no stage named "${spec.stage}" in this pipeline`, stage.name)
      }
      const produced = producer.outputs[spec.output]
      if (produced === undefined) {
        const known = Object.keys(producer.outputs).join(", ") || "none"
        return fail("unknown-input", `input ${input}: stage ${spec.stage} has no output "${spec.output}" (outputs: ${known})`, stage.name)
      }
      if (produced.kind !== spec.kind) {
        return fail("unknown-input", `input ${input}: ${spec.stage}.${spec.output} is a ${produced.kind}, not a ${spec.kind}`, stage.name)
      }
      const wiring = edges.get(spec.stage) ?? []
      wiring.push({ input, output: spec.output })
      edges.set(spec.stage, wiring)
    }
    for (const [from, wiring] of edges) g.setEdge(from, stage.name, wiring)
    edges.clear()
  }
  const sorted = topologicalOrder(g)
  if (!sorted.ok) return fail("cycle", `cycle: ${sorted.cycle.join(" -> ")}`)
  return { ok: true, dag: g, order: sorted.order }
}

/**
 * Kahn's algorithm, iterative. graphlib's `topsort` and `findCycles` recurse once per level and
 * overflow the stack on pipelines deeper than ~3,000 stages (measured), so ordering and cycle
 * finding are done here, on graphlib's graph. Ties keep pipeline order. On a cycle, walks back
 * through predecessors that were never freed until a stage repeats: that walk is a cycle.
 */
const topologicalOrder = (g: Dag): { readonly ok: true; readonly order: Array<string> } | { readonly ok: false; readonly cycle: Array<string> } => {
  const indegree = new Map<string, number>()
  const queue: Array<string> = []
  for (const n of g.nodes()) {
    const d = g.predecessors(n)?.length ?? 0
    indegree.set(n, d)
    if (d === 0) queue.push(n)
  }
  const order: Array<string> = []
  for (let head = 0; head < queue.length; head++) {
    const n = queue[head]!
    order.push(n)
    for (const s of g.successors(n) ?? []) {
      const d = indegree.get(s)! - 1
      indegree.set(s, d)
      if (d === 0) queue.push(s)
    }
  }
  if (order.length === g.nodeCount()) return { ok: true, order }
  const stuck = (n: string) => indegree.get(n)! > 0
  const seen = new Map<string, number>()
  const walk: Array<string> = []
  let current = g.nodes().find(stuck)!
  while (!seen.has(current)) {
    seen.set(current, walk.length)
    walk.push(current)
    current = (g.predecessors(current) ?? []).find(stuck)!
  }
  const cycle = walk.slice(seen.get(current)!).reverse()
  // Start the cycle at its alphabetically first stage, so the message is stable.
  const first = cycle.indexOf([...cycle].sort()[0]!)
  const rotated = [...cycle.slice(first), ...cycle.slice(0, first)]
  return { ok: false, cycle: [...rotated, rotated[0]!] }
}
