/**
 * Generates the same DAG of N trivial stages as a pinkflow pipeline and as a Snakefile.
 * Stage i reads stage (i-1)/2 (a binary tree) and, from i = 3 on, stage i-2, so the graph is
 * full of diamonds.
 */
export const parents = (i: number): Array<number> => (i === 0 ? [] : i < 3 ? [(i - 1) >> 1] : [(i - 1) >> 1, i - 2].filter((p, k, a) => a.indexOf(p) === k))

export const pipeline = (n: number): string => `/** Generated: ${n} trivial stages in a diamond-rich DAG (bench/generate.ts). */
import { Effect, Schema } from "effect"
import * as Artifact from "../src/core/Artifact.ts"
import * as Input from "../src/core/Input.ts"
import * as Pipeline from "../src/core/Pipeline.ts"
import * as Stage from "../src/core/Stage.ts"

const parents = ${parents.toString()}
const stages: Array<Stage.Stage<{ readonly i: number }, Stage.Inputs, { readonly out: Artifact.Output<"json", number> }>> = []
for (let i = 0; i < ${n}; i++) {
  const inputs: Record<string, Input.FromStage<"json", number>> = {}
  for (const p of parents(i)) inputs[\`s\${p}\`] = Input.json(stages[p]!.out.out)
  stages.push(Stage.make({
    name: \`s\${i}\`,
    params: Schema.Struct({ i: Stage.param(Schema.Int, i) }),
    inputs,
    outputs: { out: Artifact.json<number>() },
    run: ({ params, inputs }) =>
      Effect.succeed({ out: params.i + Object.values(inputs as Record<string, number>).reduce((a, b) => a + b, 0) })
  }))
}

export default Pipeline.make({ name: "generated-${n}", stages })
`

export const snakefile = (n: number): string => {
  const rules = [`rule all:\n    input: [${Array.from({ length: n }, (_, i) => `"out/s${i}.txt"`).join(", ")}]\n`]
  for (let i = 0; i < n; i++) {
    const ins = parents(i).map((p) => `"out/s${p}.txt"`)
    rules.push(`rule s${i}:\n${ins.length > 0 ? `    input: ${ins.join(", ")}\n` : ""}    output: "out/s${i}.txt"\n    shell: "echo ${i} > {output}"\n`)
  }
  return rules.join("\n")
}
