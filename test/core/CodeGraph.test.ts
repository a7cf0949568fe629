/**
 * The code graph and the slices cut from it, on small in-memory modules: what a declaration
 * references (and what it does not), how imports, re-exports and namespaces resolve, wiring read
 * as data only for the real input constructors, and the conservative cases (eval, `import(x)`,
 * a bare namespace, an unknown export) that take more rather than less.
 */
import test from "ava"
import * as CodeGraph from "../../src/core/CodeGraph.ts"
import * as Fingerprint from "../../src/core/Fingerprint.ts"

const analyse = async (code: string) => (await CodeGraph.analyse(code, (i) => `M(${i})`)).analysis

/** A graph from module sources (plain JavaScript), every relative specifier resolved to its module. */
const graph = async (sources: Record<string, string>): Promise<CodeGraph.Graph> => {
  const out: Record<string, CodeGraph.Module> = {}
  for (const [file, code] of Object.entries(sources)) {
    const a = await analyse(code)
    const specs = [...Object.values(a.imports).map((b) => b.from), ...a.stars, ...a.sideImports, ...a.declarations.flatMap((d) => d.dynamic),
      ...Object.values(a.exports).flatMap((e) => "from" in e ? [e.from] : [])]
    const resolved: Record<string, CodeGraph.Target> = {}
    for (const s of specs) resolved[s] = s.startsWith("./") ? { module: s.slice(2) } : { package: s, version: "1.0.0" }
    out[file] = { ...a, resolved, staticImports: [...Object.values(a.imports).map((b) => b.from), ...a.sideImports].filter((s) => s.startsWith("./")).map((s) => s.slice(2)) }
  }
  return out
}

const slice = (g: CodeGraph.Graph, module: string, statement: number, wiring?: string) =>
  Fingerprint.ofStage(g, { module, statement }, Fingerprint.eager(g, "p.js"), wiring)

test("a declaration's references: reading positions only, namespaces narrowed, patterns and keys skipped", async (t) => {
  const a = await analyse(`import * as NS from "./ns.js"
import { named as local } from "./named.js"
const top = 1, other = 2
function helper(x = top) { const { key: renamed = other } = x; return NS.member + renamed }
export const obj = { top: 5, [local]: 1, method() { return helper() } }
label: for (const k of []) { break label }
`)
  t.deepEqual(a.imports, { NS: { from: "./ns.js", name: "*" }, local: { from: "./named.js", name: "named" } })
  const helper = a.declarations.find((d) => d.names.includes("helper"))!
  t.deepEqual(helper.refs, ["NS.member", "other", "top"])
  const obj = a.declarations.find((d) => d.names.includes("obj"))!
  t.deepEqual(obj.refs, ["helper", "local"], "a non-computed key is no reference; a computed one is")
  t.deepEqual(a.exports, { obj: { local: "obj" } })
  t.true(a.declarations.at(-1)!.effect, "a top-level loop runs for its effect")
  t.false(a.opaque)
})

test("the instrumented code marks each top-level statement and still runs", async (t) => {
  const { code } = await CodeGraph.analyse(`import { x } from "./x.js"\nconst a = 1;export const b = a + 1\nconsole.log(b)`, (i) => `marks.push(${i})`)
  t.regex(code, /;marks\.push\(0\);const a = 1;.*;marks\.push\(1\);export const b.*;marks\.push\(2\);console\.log/s)
})

test("exports, re-exports and export * resolve to the declaration; unused declarations stay out", async (t) => {
  const g = await graph({
    "p.js": `import { s } from "./stage.js"\nexport default s`,
    "stage.js": `import { used } from "./barrel.js"\nimport * as B from "./barrel.js"\nexport const s = () => used() + B.alsoUsed()`,
    "barrel.js": `export { used } from "./lib.js"\nexport * from "./more.js"`,
    "lib.js": `export const used = () => 1\nexport const unused = () => 2`,
    "more.js": `export const alsoUsed = () => 3\nexport const notThis = () => 4`
  })
  const fp = slice(g, "stage.js", 0)
  t.deepEqual(Object.keys(fp.modules).sort(), ["barrel.js", "lib.js", "more.js", "stage.js"])
  const edited = await graph({ ...Object.fromEntries(Object.entries({
    "p.js": `import { s } from "./stage.js"\nexport default s`,
    "stage.js": `import { used } from "./barrel.js"\nimport * as B from "./barrel.js"\nexport const s = () => used() + B.alsoUsed()`,
    "barrel.js": `export { used } from "./lib.js"\nexport * from "./more.js"`,
    "lib.js": `export const used = () => 1\nexport const unused = () => 20`,
    "more.js": `export const alsoUsed = () => 3\nexport const notThis = () => 40`
  })) })
  t.deepEqual(slice(edited, "stage.js", 0), fp, "edits to declarations no body reaches change nothing")
  const changed = await graph({ "p.js": `import { s } from "./stage.js"\nexport default s`, "stage.js": `import { used } from "./barrel.js"\nimport * as B from "./barrel.js"\nexport const s = () => used() + B.alsoUsed()`, "barrel.js": `export { used } from "./lib.js"\nexport * from "./more.js"`, "lib.js": `export const used = () => 10\nexport const unused = () => 2`, "more.js": `export const alsoUsed = () => 3\nexport const notThis = () => 4` })
  t.notDeepEqual(slice(changed, "stage.js", 0).modules["lib.js"], fp.modules["lib.js"])
})

test("wiring is data only when the callee is the real input constructor module", async (t) => {
  const sources = {
    "p.js": `import { down } from "./down.js"\nexport default down`,
    "Input.js": `export const file = (r) => ({ stage: r.stage })\nexport const other = (r) => r.out.run()`,
    "up.js": `export const up = { out: { table: { stage: "up" } } }\nexport const helper = () => 1`,
    "down.js": `import * as Input from "./Input.js"\nimport { up } from "./up.js"\nimport { other } from "./Input.js"\nexport const down = { input: Input.file(up.out.table) }\nexport const odd = { input: other(up.out.table) }`
  }
  const g = await graph(sources)
  t.false("up.js" in slice(g, "down.js", 0, "Input.js").modules, "Input.file(up.out.table) is data")
  t.true("up.js" in slice(g, "down.js", 0, undefined).modules, "without the input module known, the reference is code")
  t.true("up.js" in slice(g, "down.js", 1, "Input.js").modules, "another function given an output reference may run it")
})

test("the conservative cases take more, never less", async (t) => {
  const base = { "p.js": `import { a } from "./a.js"\nexport default a`, "other.js": `export const far = 1` }
  const evil = await graph({ ...base, "a.js": `export const a = () => eval("far")` })
  t.true("other.js" in slice(evil, "a.js", 0).modules, "eval: every module")
  const computed = await graph({ ...base, "a.js": `export const a = (m) => import(m)` })
  t.true("other.js" in slice(computed, "a.js", 0).modules, "import(expression): every module")
  const ns = await graph({ ...base, "a.js": `import * as O from "./other.js"\nexport const a = () => Object.keys(O)` })
  t.true("other.js" in slice(ns, "a.js", 0).modules, "a namespace used as a value: the whole module")
  const dyn = await graph({ ...base, "a.js": `export const a = async () => (await import("./other.js")).far` })
  t.true("other.js" in slice(dyn, "a.js", 0).modules, "import(literal): the whole module")
  const pkg = await graph({ ...base, "a.js": `import { z } from "zod"\nexport const a = () => z` })
  t.deepEqual(slice(pkg, "a.js", 0).packages, { zod: "1.0.0" })
  const effects = await graph({ "p.js": `import { a } from "./a.js"\nimport "./setup.js"\nexport default a`, "setup.js": `globalThis.mode = "fast"`, "a.js": `export const a = () => globalThis.mode` })
  t.true("setup.js" in slice(effects, "a.js", 0).modules, "top-level effects of eagerly loaded modules count")
  t.true("p.js" in Fingerprint.ofStage(effects, undefined, new Set(), undefined).modules, "an unknown declaration: everything")
})
