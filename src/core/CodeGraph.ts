/**
 * The code graph: every project module as its top-level declarations, what each declaration
 * references, and where the module's imports and exports lead. `Fingerprint` walks it from a
 * stage's declaration to the exact code the stage's body can execute.
 *
 * A module is analysed once, when the pipeline is bundled: its source after esbuild strips types,
 * comments and formatting is parsed with acorn, each top-level statement becomes a `Declaration`
 * (the bindings it introduces, the names it references, its digest), and the same text, with a
 * marker before each statement, is what the bundle runs. The marker tells `Stage.make` which
 * statement declared a stage.
 *
 * The analysis over-approximates, never under: any identifier in a reading position that names a
 * top-level binding counts as a reference (even where a local shadows it), `NS.member` of a
 * namespace import narrows to that member, a bare namespace or `import(literal)` takes the whole
 * module, and `eval` or `import(expression)` make the module opaque (a slice then takes every
 * module). The one thing read as data rather than code is wiring: an output reference handed to an
 * input constructor (`Input.file(prepare.out.clean)`), which yields a record of three strings.
 */
import * as Digest from "./Digest.ts"

/** The input constructors of `Input.ts`: an output reference passed to one is data, not code. */
export const WIRING = new Set(["file", "directory", "model", "json", "metrics"])

/** An import as written: the specifier and the imported name (`*` for a namespace, `default`). */
export interface Binding {
  readonly from: string
  readonly name: string
}

/** An output reference handed to a possible input constructor (`callee` as written: `Input.file` or `file`). */
export interface Wiring {
  readonly callee: string
  /** What the reference expression names: read as code only if `callee` is not an input constructor. */
  readonly refs: ReadonlyArray<string>
}

export interface Declaration {
  /** Top-level bindings it introduces (`*default*` for `export default <expression>`). */
  readonly names: ReadonlyArray<string>
  /** Top-level names (or `namespace.member`) it reads. */
  readonly refs: ReadonlyArray<string>
  readonly wiring: ReadonlyArray<Wiring>
  /** Specifiers of `import("…")` and `require("…")` with a literal argument. */
  readonly dynamic: ReadonlyArray<string>
  /** A statement that runs for its effect (an expression, a loop…), not a declaration. */
  readonly effect: boolean
  /** Digest of its normalised text. */
  readonly digest: string
}

export type Export = { readonly local: string } | Binding

export interface Analysis {
  readonly declarations: ReadonlyArray<Declaration>
  /** Local name → what it imports. */
  readonly imports: Readonly<Record<string, Binding>>
  /** `import "x"`: modules imported for their effects. */
  readonly sideImports: ReadonlyArray<string>
  readonly exports: Readonly<Record<string, Export>>
  /** `export * from "x"`. */
  readonly stars: ReadonlyArray<string>
  /** `eval` or `import(expression)`: what it runs cannot be known statically. */
  readonly opaque: boolean
}

/** Where a specifier leads: a project module, a package (with its installed version) or a Node builtin. */
export type Target =
  | { readonly module: string }
  | { readonly package: string; readonly version: string }
  | { readonly builtin: string }

export interface Module extends Analysis {
  readonly resolved: Readonly<Record<string, Target>>
  /** Project modules it imports statically (evaluated whenever it is). */
  readonly staticImports: ReadonlyArray<string>
}

export type Graph = Readonly<Record<string, Module>>

// ---------------------------------------------------------------------------------------------
// The analysis of one module

type Node = { readonly type: string; readonly start: number; readonly end: number; readonly [k: string]: any }

const SKIP = new Set(["type", "start", "end", "loc", "range", "raw"])

const patternNames = (p: Node | null, out: Array<string>): Array<string> => {
  if (p === null) return out
  switch (p.type) {
    case "Identifier": out.push(p.name); break
    case "ObjectPattern": for (const prop of p.properties) patternNames(prop.type === "RestElement" ? prop.argument : prop.value, out); break
    case "ArrayPattern": for (const e of p.elements) patternNames(e, out); break
    case "RestElement": patternNames(p.argument, out); break
    case "AssignmentPattern": patternNames(p.left, out); break
  }
  return out
}

/** A member chain of plain names ending in `.out.<name>`: an output reference. */
const isOutputRef = (n: Node): boolean => {
  if (n.type !== "MemberExpression" || n.computed || n.property.type !== "Identifier") return false
  const obj = n.object
  if (obj.type !== "MemberExpression" || obj.computed || obj.property.type !== "Identifier" || obj.property.name !== "out") return false
  for (let o = obj.object; ; o = o.object) {
    if (o.type === "Identifier") return true
    if (o.type !== "MemberExpression" || o.computed || o.property.type !== "Identifier") return false
  }
}

class Collector {
  readonly refs = new Set<string>()
  readonly wiring: Array<Wiring> = []
  readonly dynamic: Array<string> = []
  opaque = false
  constructor(private readonly namespaces: ReadonlySet<string>) {}

  pattern(p: Node | null): void {
    if (p === null) return
    switch (p.type) {
      case "Identifier": return
      case "ObjectPattern":
        for (const prop of p.properties) {
          if (prop.type === "RestElement") this.pattern(prop.argument)
          else {
            if (prop.computed) this.expr(prop.key)
            this.pattern(prop.value)
          }
        }
        return
      case "ArrayPattern": for (const e of p.elements) this.pattern(e); return
      case "RestElement": return this.pattern(p.argument)
      case "AssignmentPattern": this.pattern(p.left); return this.expr(p.right)
      default: return this.expr(p) // a member expression as an assignment target
    }
  }

  private children(n: Node): void {
    for (const [k, v] of Object.entries(n)) {
      if (SKIP.has(k) || v === null || typeof v !== "object") continue
      if (Array.isArray(v)) { for (const c of v) if (c !== null && typeof c === "object" && typeof c.type === "string") this.expr(c) }
      else if (typeof v.type === "string") this.expr(v)
    }
  }

  private calleeName(c: Node): string | undefined {
    if (c.type === "Identifier" && WIRING.has(c.name)) return c.name
    if (c.type === "MemberExpression" && !c.computed && c.object.type === "Identifier" && c.property.type === "Identifier" && WIRING.has(c.property.name)) {
      return `${c.object.name}.${c.property.name}`
    }
    return undefined
  }

  expr(n: Node): void {
    switch (n.type) {
      case "Identifier":
        if (n.name === "eval") this.opaque = true
        this.refs.add(n.name)
        return
      case "MemberExpression":
        if (!n.computed && n.object.type === "Identifier" && this.namespaces.has(n.object.name) && n.property.type === "Identifier") {
          this.refs.add(`${n.object.name}.${n.property.name}`)
          return
        }
        this.expr(n.object)
        if (n.computed) this.expr(n.property)
        return
      case "CallExpression": {
        const callee = this.calleeName(n.callee)
        if (callee !== undefined && n.arguments.length === 1 && isOutputRef(n.arguments[0])) {
          this.expr(n.callee)
          const inner = new Collector(this.namespaces)
          inner.expr(n.arguments[0])
          this.wiring.push({ callee, refs: [...inner.refs].sort() })
          return
        }
        if (n.callee.type === "Identifier" && n.callee.name === "require" && n.arguments[0]?.type === "Literal" && typeof n.arguments[0].value === "string") {
          this.dynamic.push(n.arguments[0].value)
        }
        return this.children(n)
      }
      case "ImportExpression":
        if (n.source.type === "Literal" && typeof n.source.value === "string") this.dynamic.push(n.source.value)
        else this.opaque = true
        return this.children(n)
      case "Property":
      case "MethodDefinition":
      case "PropertyDefinition":
        if (n.computed) this.expr(n.key)
        if (n.value !== null && n.value !== undefined) this.expr(n.value)
        return
      case "FunctionDeclaration":
      case "FunctionExpression":
      case "ArrowFunctionExpression":
        for (const p of n.params) this.pattern(p)
        return this.expr(n.body)
      case "ClassDeclaration":
      case "ClassExpression":
        if (n.superClass !== null) this.expr(n.superClass)
        return this.expr(n.body)
      case "VariableDeclarator":
        this.pattern(n.id)
        if (n.init !== null) this.expr(n.init)
        return
      case "CatchClause":
        this.pattern(n.param)
        return this.expr(n.body)
      case "AssignmentExpression":
        this.pattern(n.left)
        return this.expr(n.right)
      case "ForInStatement":
      case "ForOfStatement":
        if (n.left.type === "VariableDeclaration") this.expr(n.left)
        else this.pattern(n.left)
        this.expr(n.right)
        return this.expr(n.body)
      case "LabeledStatement":
        return this.expr(n.body)
      case "BreakStatement":
      case "ContinueStatement":
      case "MetaProperty":
      case "Literal":
      case "TemplateElement":
        return
      default:
        return this.children(n)
    }
  }
}

const stringOf = (n: Node): string => n.type === "Literal" ? String(n.value) : n.name

/**
 * Analyses one module's JavaScript (already stripped of types). Returns the analysis and the code
 * to bundle: the same text with `marker(i)` before the i-th declaration.
 */
export const analyse = async (code: string, marker: (index: number) => string): Promise<{ readonly analysis: Analysis; readonly code: string }> => {
  const acorn = await import("acorn")
  const program = acorn.parse(code, { ecmaVersion: "latest", sourceType: "module", allowHashBang: true }) as unknown as { body: Array<Node> }
  const imports: Record<string, Binding> = {}
  const sideImports: Array<string> = []
  const exports: Record<string, Export> = {}
  const stars: Array<string> = []
  const statements: Array<{ node: Node; names: Array<string>; effect: boolean }> = []
  for (const s of program.body) {
    switch (s.type) {
      case "ImportDeclaration": {
        const from = String(s.source.value)
        if (s.specifiers.length === 0) sideImports.push(from)
        for (const sp of s.specifiers) {
          imports[sp.local.name] = {
            from,
            name: sp.type === "ImportNamespaceSpecifier" ? "*" : sp.type === "ImportDefaultSpecifier" ? "default" : stringOf(sp.imported)
          }
        }
        continue
      }
      case "ExportAllDeclaration": {
        const from = String(s.source.value)
        if (s.exported === null || s.exported === undefined) stars.push(from)
        else exports[stringOf(s.exported)] = { from, name: "*" }
        continue
      }
      case "ExportNamedDeclaration": {
        if (s.declaration === null || s.declaration === undefined) {
          for (const sp of s.specifiers) {
            exports[stringOf(sp.exported)] = s.source === null || s.source === undefined
              ? { local: stringOf(sp.local) }
              : { from: String(s.source.value), name: stringOf(sp.local) }
          }
          continue
        }
        const names = declared(s.declaration)
        for (const n of names) exports[n] = { local: n }
        statements.push({ node: s, names, effect: false })
        continue
      }
      case "ExportDefaultDeclaration": {
        const d = s.declaration
        const names = ["*default*", ...((d.type === "FunctionDeclaration" || d.type === "ClassDeclaration") && d.id !== null ? [d.id.name] : [])]
        exports.default = { local: "*default*" }
        statements.push({ node: s, names, effect: false })
        continue
      }
      default: {
        const names = declared(s)
        statements.push({ node: s, names, effect: names.length === 0 })
      }
    }
  }
  const topLevel = new Set([...Object.keys(imports), ...statements.flatMap((s) => s.names)])
  const namespaces = new Set(Object.entries(imports).filter(([, b]) => b.name === "*").map(([local]) => local))
  let opaque = false
  const declarations = statements.map(({ node, names, effect }): Declaration => {
    const c = new Collector(namespaces)
    c.expr(node.type.startsWith("Export") ? node.declaration : node)
    opaque ||= c.opaque
    const keep = (r: string) => topLevel.has(r.split(".")[0]!)
    return {
      names,
      refs: [...c.refs].filter(keep).sort(),
      wiring: c.wiring.map((w) => ({ callee: w.callee, refs: w.refs.filter(keep) })),
      dynamic: c.dynamic,
      effect,
      digest: Digest.ofBytes(code.slice(node.start, node.end))
    }
  })
  let instrumented = ""
  let at = 0
  statements.forEach(({ node }, i) => {
    instrumented += code.slice(at, node.start) + `;${marker(i)};`
    at = node.start
  })
  instrumented += code.slice(at)
  return { analysis: { declarations, imports, sideImports, exports, stars, opaque }, code: instrumented }
}

const declared = (s: Node): Array<string> => {
  switch (s.type) {
    case "VariableDeclaration": return s.declarations.flatMap((d: Node) => patternNames(d.id, []))
    case "FunctionDeclaration":
    case "ClassDeclaration": return s.id === null ? [] : [s.id.name]
    default: return []
  }
}
