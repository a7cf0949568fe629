import test from "ava"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Digest from "../../src/core/Digest.ts"

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "pinkflow-digest-"))

test("ofFile streams in chunks and matches a one-shot SHA-256, across chunk boundaries", async (t) => {
  const dir = tmp()
  for (const size of [0, 1, 4 * 1024 * 1024, 4 * 1024 * 1024 + 1, 9 * 1024 * 1024 + 7]) {
    const bytes = Buffer.alloc(size, 0)
    for (let i = 0; i < size; i += 997) bytes[i] = i % 251
    const file = path.join(dir, `f${size}`)
    fs.writeFileSync(file, bytes)
    const { digest, size: n } = await Digest.ofFile(file)
    t.is(digest as string, createHash("sha256").update(bytes).digest("hex"))
    t.is(n, size)
  }
})

test("canonical JSON sorts keys at every depth", (t) => {
  t.is(Digest.canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: null } }), '{"a":{"c":null,"d":[2,{"y":2,"z":1}]},"b":1}')
  t.is(Digest.ofJson({ x: 1, y: 2 }), Digest.ofJson({ y: 2, x: 1 }))
})

test("a tree's digest depends on paths and contents only", async (t) => {
  const a = tmp()
  const b = tmp()
  for (const root of [a, b]) {
    fs.mkdirSync(path.join(root, "sub/deeper"), { recursive: true })
    fs.writeFileSync(path.join(root, "x.txt"), "x")
    fs.writeFileSync(path.join(root, "sub/deeper/y.txt"), "y")
  }
  const da = await Digest.ofTree(a)
  const db = await Digest.ofTree(b)
  t.is(da.digest, db.digest)
  t.deepEqual(da.manifest.entries.map((e) => e[0]), ["sub/deeper/y.txt", "x.txt"])
  fs.writeFileSync(path.join(b, "x.txt"), "X")
  t.not((await Digest.ofTree(b)).digest, da.digest)
  fs.writeFileSync(path.join(b, "x.txt"), "x")
  fs.renameSync(path.join(b, "x.txt"), path.join(b, "w.txt"))
  t.not((await Digest.ofTree(b)).digest, da.digest)
})
