/**
 * The pipeline as a graphlib graph, validated before anything runs.
 *
 * Nodes are stage names (labelled with the stage), edges run producer → consumer and are
 * labelled with the wiring. Validation reports, as one `PipelineError` each: duplicate stage
 * names, inputs that name an unknown stage or output or the wrong kind, project files that do
 * not exist, and cycles with their path.
 */
import { Graph, alg } from "@dagrejs/graphlib"
import { Data } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type * as Pipeline from "./Pipeline.ts"
import type * as Stage from "./Stage.ts"

export type Reason = "duplicate-stage" | "unknown-input" | "missing-file" | "cycle" | "params" | "load"

export class PipelineError extends Data.TaggedError("PipelineError")<{
  readonly reason: Reason
  readonly file: string
  readonly stage?: string | undefined
  readonly detail: string
}> {
  override get message(): string {
    return `${this.file}: ${this.stage === undefined ? "" : `stage ${this.stage}: `}${this.detail}`
  }
}

export interface Edge {
  readonly input: string
  readonly output: string
}

export type Dag = Graph<string, Stage.Any, Array<Edge>>

/** graphlib's algorithms take untyped graphs. */
const untyped = (dag: Dag): Graph => dag as unknown as Graph

/** Builds and validates the graph. `file` names the pipeline in errors; `root` anchors project paths. */
export const make = (
  pipeline: Pipeline.Pipeline,
  file: string,
  root: string
): { readonly ok: true; readonly dag: Dag } | { readonly ok: false; readonly error: PipelineError } => {
  const fail = (reason: Reason, detail: string, stage?: string) =>
    ({ ok: false, error: new PipelineError({ reason, file, stage, detail }) }) as const
  const g: Dag = new Graph({ directed: true })
  for (const stage of pipeline.stages) {
    const existing = g.node(stage.name)
    if (existing === stage) continue
    if (existing !== undefined) return fail("duplicate-stage", `duplicate stage name "${stage.name}"`)
    g.setNode(stage.name, stage)
  }
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
      const edges = g.edge(spec.stage, stage.name) ?? []
      g.setEdge(spec.stage, stage.name, [...edges, { input, output: spec.output }])
    }
  }
  const cycles = alg.findCycles(untyped(g))
  if (cycles.length > 0) return fail("cycle", `cycle: ${cyclePath(g, cycles[0]!).join(" -> ")}`)
  return { ok: true, dag: g }
}

/** Orders a strongly connected component as a walk that returns to its start. */
const cyclePath = (g: Dag, component: ReadonlyArray<string>): Array<string> => {
  const members = new Set(component)
  const start = [...component].sort()[0]!
  const walk = [start]
  const seen = new Set([start])
  let current = start
  for (;;) {
    const next = (g.successors(current) ?? []).filter((s) => members.has(s)).sort()
    const back = next.find((s) => s === start)
    if (back !== undefined && walk.length > 1 || next.length === 1 && next[0] === start) return [...walk, start]
    const step = next.find((s) => !seen.has(s))
    if (step === undefined) return [...walk, start]
    walk.push(step)
    seen.add(step)
    current = step
  }
}

/** Stage names in a deterministic topological order (ties broken by pipeline order). */
export const order = (dag: Dag): Array<string> => alg.topsort(untyped(dag))

export const ancestors = (dag: Dag, stage: string): Set<string> => {
  const out = new Set<string>()
  const stack = [stage]
  while (stack.length > 0) {
    for (const p of dag.predecessors(stack.pop()!) ?? []) {
      if (!out.has(p)) {
        out.add(p)
        stack.push(p)
      }
    }
  }
  return out
}

export const descendants = (dag: Dag, stage: string): Set<string> =>
  new Set(alg.preorder(untyped(dag), [stage]).filter((s) => s !== stage))
