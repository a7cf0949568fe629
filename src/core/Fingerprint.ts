/**
 * Code fingerprints: the code a stage's body can execute, as a record the cache key can diff.
 *
 * A stage's fingerprint starts at the top-level statement that declared it (the loader marks each
 * statement, `Stage.make` records which one ran) and follows what it references through the code
 * graph, declaration by declaration, across modules: a helper the body calls, the module a body
 * imports dynamically (whole), a namespace member (`Csv.parse` → `parse` of csv.ts), and the
 * packages those reach, at their installed versions. Statements that run for their effects are
 * always included: those of every module the pipeline file loads eagerly, and those of each module
 * the slice touches. What is *not* followed is wiring: `Input.file(prepare.out.clean)` yields a
 * record of strings, so an upstream stage's declaration, and its body, stay out of a downstream
 * key; the upstream output's content digest is in that key instead (early cutoff).
 *
 * The record holds, per project module, the digest of the declarations the slice takes from it
 * (each normalised: comments, types and formatting do not count), so `why` names the module.
 * A stage with no known declaration (made outside a bundled module) takes every module.
 */
import * as CodeGraph from "./CodeGraph.ts"
import * as Digest from "./Digest.ts"

export interface Fingerprint {
  /** Project module → digest of the declarations of it that the stage can execute. */
  readonly modules: Readonly<Record<string, string>>
  /** Package → installed version. */
  readonly packages: Readonly<Record<string, string>>
}

/** Where a stage was declared: a module and the index of its top-level statement. */
export interface Declared {
  readonly module: string
  readonly statement: number
}

/** The modules `from` loads statically, itself included. */
export const eager = (graph: CodeGraph.Graph, from: string): ReadonlySet<string> => {
  const seen = new Set<string>()
  const stack = [from]
  while (stack.length > 0) {
    const m = stack.pop()!
    if (seen.has(m) || graph[m] === undefined) continue
    seen.add(m)
    stack.push(...graph[m].staticImports)
  }
  return seen
}

class Slice {
  private readonly taken = new Map<string, Set<number>>()
  readonly packages: Record<string, string> = {}
  private readonly queue: Array<readonly [string, number]> = []

  constructor(private readonly graph: CodeGraph.Graph, private readonly wiringModule: string | undefined) {}

  /** Marks module `m` touched: its effects and its side imports come along. */
  private touch(m: string): Set<number> {
    let set = this.taken.get(m)
    if (set !== undefined) return set
    set = new Set()
    this.taken.set(m, set)
    const mod = this.graph[m]!
    mod.declarations.forEach((d, i) => { if (d.effect) this.take(m, i) })
    for (const s of mod.sideImports) this.target(m, s, undefined)
    if (mod.opaque) for (const other of Object.keys(this.graph)) this.all(other)
    return set
  }

  take(m: string, i: number): void {
    if (this.graph[m] === undefined) return
    const set = this.touch(m)
    if (set.has(i)) return
    set.add(i)
    this.queue.push([m, i])
  }

  all(m: string): void {
    const mod = this.graph[m]
    if (mod === undefined) return
    this.touch(m)
    mod.declarations.forEach((_, i) => this.take(m, i))
  }

  /** Follows specifier `spec` of module `m` to name `name` there (`undefined`: the whole module). */
  private target(m: string, spec: string, name: string | undefined): void {
    const t = this.graph[m]!.resolved[spec]
    if (t === undefined) return this.unknown()
    if ("package" in t) { this.packages[t.package] = t.version; return }
    if ("builtin" in t) return
    if (name === undefined || name === "*") return this.all(t.module)
    this.exportOf(t.module, name, new Set())
  }

  /** A name whose origin the graph does not know: take everything. */
  private unknown(): void {
    for (const m of Object.keys(this.graph)) this.all(m)
  }

  private exportOf(m: string, name: string, seen: Set<string>): void {
    const mod = this.graph[m]
    if (mod === undefined || seen.has(m)) return
    seen.add(m)
    this.touch(m)
    const e = mod.exports[name]
    if (e !== undefined) return "local" in e ? this.local(m, e.local) : this.target(m, e.from, e.name)
    for (const star of mod.stars) {
      const t = mod.resolved[star]
      if (t !== undefined && "module" in t && this.exports(t.module, name, new Set())) return this.exportOf(t.module, name, seen)
      if (t !== undefined && "package" in t) this.packages[t.package] = t.version
    }
    this.all(m)
  }

  private exports(m: string, name: string, seen: Set<string>): boolean {
    const mod = this.graph[m]
    if (mod === undefined || seen.has(m)) return false
    seen.add(m)
    return mod.exports[name] !== undefined || mod.stars.some((s) => {
      const t = mod.resolved[s]
      return t !== undefined && "module" in t && this.exports(t.module, name, seen)
    })
  }

  /** A top-level name of module `m` (or `namespace.member`). */
  local(m: string, ref: string): void {
    const mod = this.graph[m]!
    const dot = ref.indexOf(".")
    const head = dot < 0 ? ref : ref.slice(0, dot)
    const imported = mod.imports[head]
    if (imported !== undefined) {
      const member = dot < 0 ? undefined : ref.slice(dot + 1)
      return this.target(m, imported.from, imported.name === "*" ? member : imported.name)
    }
    mod.declarations.forEach((d, i) => { if (d.names.includes(head)) this.take(m, i) })
  }

  /** Where name `name` imported from `spec` in module `m` is defined, through re-exports: a module's namespace or export, or a package's export. */
  private origin(m: string, spec: string, name: string, depth = 0): { readonly module?: string; readonly package?: string; readonly name: string } | undefined {
    const t = this.graph[m]?.resolved[spec]
    if (t === undefined || "builtin" in t || depth > 20) return undefined
    if ("package" in t) return { package: t.package, name }
    const target = this.graph[t.module]
    const e = name === "*" ? undefined : target?.exports[name]
    if (e !== undefined && "from" in e) return this.origin(t.module, e.from, e.name, depth + 1)
    if (e !== undefined && target!.imports[e.local] !== undefined) {
      const b = target!.imports[e.local]!
      return this.origin(t.module, b.from, b.name, depth + 1)
    }
    return { module: t.module, name }
  }

  /**
   * Whether `callee` (as written in module `m`) is one of this framework's input constructors:
   * `Input.file` with `Input` the namespace of `Input.ts` (directly or re-exported, as `pinkflow`'s
   * `src/index.ts` does), or `Input` of the installed `pinkflow` package.
   */
  private isWiring(m: string, callee: string): boolean {
    const mod = this.graph[m]!
    const [head, member] = callee.includes(".") ? callee.split(".") as [string, string] : [callee, undefined]
    const imported = mod.imports[head]
    if (imported === undefined) return false
    const o = this.origin(m, imported.from, imported.name)
    if (o === undefined) return false
    if (o.package !== undefined) return o.package === "pinkflow" && o.name === "Input" && member !== undefined && CodeGraph.WIRING.has(member)
    if (o.module === undefined || o.module !== this.wiringModule) return false
    return member === undefined ? CodeGraph.WIRING.has(o.name) : o.name === "*"
  }

  run(): void {
    for (let next = this.queue.pop(); next !== undefined; next = this.queue.pop()) {
      const [m, i] = next
      const d = this.graph[m]!.declarations[i]!
      for (const r of d.refs) this.local(m, r)
      for (const w of d.wiring) if (!this.isWiring(m, w.callee)) for (const r of w.refs) this.local(m, r)
      for (const spec of d.dynamic) this.target(m, spec, undefined)
    }
  }

  fingerprint(): Fingerprint {
    const modules: Record<string, string> = {}
    for (const [m, set] of [...this.taken].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)) {
      const decls = this.graph[m]!.declarations
      modules[m] = Digest.ofBytes([...set].sort((a, b) => a - b).map((i) => decls[i]!.digest).join("\n"))
    }
    const packages = Object.fromEntries(Object.entries(this.packages).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))
    return { modules, packages }
  }
}

/**
 * The fingerprint of a stage declared at `declared` (or, when that is unknown, of everything),
 * in a pipeline whose file loads `eagerModules` at start-up. `wiringModule` is `Input.ts`.
 */
export const ofStage = (
  graph: CodeGraph.Graph,
  declared: Declared | undefined,
  eagerModules: ReadonlySet<string>,
  wiringModule: string | undefined
): Fingerprint => {
  const slice = new Slice(graph, wiringModule)
  if (declared === undefined || graph[declared.module]?.declarations[declared.statement] === undefined) {
    for (const m of Object.keys(graph)) slice.all(m)
  } else {
    for (const m of eagerModules) {
      graph[m]?.declarations.forEach((d, i) => { if (d.effect) slice.take(m, i) })
    }
    slice.take(declared.module, declared.statement)
  }
  slice.run()
  return slice.fingerprint()
}
