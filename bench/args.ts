/**
 * `key=value` arguments of the diagnostic scripts in `bench/`: unknown keys, values outside a
 * choice and non-positive numbers are one line on stderr and exit 2.
 */
import * as fs from "node:fs"
import * as path from "node:path"

export interface Spec {
  readonly name: string
  readonly choices?: Readonly<Record<string, ReadonlyArray<string>>>
  readonly numbers?: ReadonlyArray<string>
  /** Keys whose values are taken as given (paths, lists). */
  readonly free?: ReadonlyArray<string>
}

/** A user mistake: one line on stderr, exit 2. */
export const usage = (name: string, detail: string): never => {
  console.error(`${name}: ${detail}`)
  process.exit(2)
}

export const parse = (spec: Spec, argv: ReadonlyArray<string> = process.argv.slice(2)): Record<string, string> => {
  const choices = spec.choices ?? {}
  const numbers = spec.numbers ?? []
  const known = [...Object.keys(choices), ...numbers, ...(spec.free ?? [])]
  const args: Record<string, string> = {}
  for (const a of argv) {
    const at = a.indexOf("=")
    const key = at < 0 ? a : a.slice(0, at)
    if (at < 0 || !known.includes(key)) usage(spec.name, `unknown argument ${a} (options: see the header of bench/${spec.name}.ts)`)
    const value = a.slice(at + 1)
    if (choices[key] !== undefined && !choices[key].includes(value)) usage(spec.name, `${key}=${value}: expected one of ${choices[key].join(", ")}`)
    if (numbers.includes(key) && !(Number(value) > 0)) usage(spec.name, `${key}=${value}: expected a positive number`)
    args[key] = value
  }
  return args
}

/** An output directory must be new or empty and not one of the inputs: nothing the user has is overwritten. */
export const freshDirectory = (name: string, key: string, dir: string, inputs: ReadonlyArray<string>): void => {
  if (inputs.some((i) => path.resolve(i) === path.resolve(dir))) usage(name, `${key}=${dir} is also an input: give a new directory`)
  if (fs.existsSync(dir) && (!fs.statSync(dir).isDirectory() || fs.readdirSync(dir).length > 0)) usage(name, `${key}=${dir} exists and is not empty: give a new directory`)
}

/** The `train.jsonl` of a data directory given as `key=`; a missing one is a one-line error. */
export const trainJsonl = (name: string, key: string, dir: string): string => {
  const file = path.join(dir, "train.jsonl")
  if (!fs.existsSync(file)) usage(name, `${key}=${dir}: no train.jsonl there`)
  return file
}
