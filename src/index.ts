/**
 * pinkflow's public API for pipeline authors:
 *
 *   import { Artifact, Input, Pipeline, Stage } from "pinkflow"
 *
 * `Stage.make` declares a stage (params, inputs, outputs, body), `Input.*` wires another stage's
 * output (or a project file) into it, `Artifact.*` declares its outputs, and a pipeline file
 * default-exports `Pipeline.make({ name, stages })`. The CLI (`pinkflow run …`) does the rest.
 */
export * as Artifact from "./core/Artifact.ts"
export * as Input from "./core/Input.ts"
export * as Pipeline from "./core/Pipeline.ts"
export * as Stage from "./core/Stage.ts"
/** The error every malformed pipeline is reported as (one line naming the file, stage or param). */
export { PipelineError } from "./core/PipelineError.ts"
