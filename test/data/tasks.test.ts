/**
 * The RC task rules on hand-built scenes (quadrants, area sorting, N/A, count balancing, predicate
 * down-sampling, answer forms), the templates, box text, and the generator's referring expressions.
 */
import test from "ava"
import * as Box from "../../src/data/Box.ts"
import * as Expressions from "../../src/data/Expressions.ts"
import * as Random from "../../src/data/Random.ts"
import * as RcTasks from "../../src/data/RcTasks.ts"
import * as Scene from "../../src/data/Scene.ts"

const obj = (id: number, name: string, x: number, y: number, w: number, h: number, colour = "red", size = "small"): Scene.SceneObject =>
  ({ id, name, attributes: [colour, size], box: { x, y, w, h } })

/** A 100 × 100 scene: a reference square in the middle and one object in each quadrant. */
const quadrants: Scene.Scene = {
  imageId: 1,
  file: "x.png",
  width: 100,
  height: 100,
  objects: [
    obj(1, "square", 40, 40, 20, 20),
    obj(2, "circle", 5, 5, 10, 10),
    obj(3, "star", 80, 10, 15, 15),
    obj(4, "ring", 10, 70, 20, 20),
    obj(5, "bar", 70, 75, 12, 8),
    obj(6, "cross", 45, 80, 10, 10) // centre x = 50, on the axis: in no quadrant
  ],
  relations: [],
  regions: []
}

test("the quadrant rule: centres strictly inside the quadrant of the reference centre", (t) => {
  const ref = Box.normalise(quadrants.objects[0]!.box, 100, 100)
  const inQ = (q: Box.Quadrant) => quadrants.objects.slice(1).filter((o) => Box.inQuadrant(ref, q, Box.normalise(o.box, 100, 100))).map((o) => o.name)
  t.deepEqual(inQ("top left"), ["circle"])
  t.deepEqual(inQ("top right"), ["star"])
  t.deepEqual(inQ("bottom left"), ["ring"])
  t.deepEqual(inQ("bottom right"), ["bar"])
})

test("multi-box answers are sorted by area, smallest first; an empty answer is N/A", (t) => {
  const answer = RcTasks.listAnswer(quadrants, quadrants.objects.slice(1, 5), "boxes-and-names")
  t.is(answer, "[0.700,0.750,0.820,0.830] bar [0.050,0.050,0.150,0.150] circle [0.800,0.100,0.950,0.250] star [0.100,0.700,0.300,0.900] ring")
  t.is(RcTasks.listAnswer(quadrants, [], "boxes"), "N/A")
  t.is(RcTasks.listAnswer(quadrants, quadrants.objects.slice(1, 3), "names"), "circle, star")
})

test("spatial samples follow the rule and mark their reference with <loc> or <des>", (t) => {
  const next = Random.rng(3)
  for (let i = 0; i < 200; i++) {
    const s = RcTasks.sampleTask("spatial", quadrants, next)!
    t.regex(s.instruction, /<loc>\[[0-9.,]+\]<\/loc>|<des>.+<\/des>/)
    const ref = Box.parseAll(s.instruction)[0]!
    const quadrant = Box.QUADRANTS.find((q) => s.instruction.includes(q))!
    const expected = quadrants.objects.filter((o) => {
      const b = Box.round3(Box.normalise(o.box, 100, 100))
      return b.join() !== ref.join() && Box.inQuadrant(ref, quadrant, b)
    })
    const form = s.subtype.split("/")[0] as "boxes" | "names" | "boxes-and-names"
    t.is(s.answer, RcTasks.listAnswer(quadrants, expected, form))
  }
})

test("count-balanced class choice: a count value uniformly, then a class with that count", (t) => {
  const objects = [obj(1, "a", 0, 0, 1, 1), obj(2, "b", 0, 0, 1, 1), obj(3, "c", 0, 0, 1, 1), obj(4, "c", 0, 0, 1, 1), obj(5, "c", 0, 0, 1, 1)]
  const next = Random.rng(11)
  const freq = new Map<string, number>()
  const n = 8000
  for (let i = 0; i < n; i++) {
    const c = RcTasks.balancedClass(objects, next)!
    freq.set(c, (freq.get(c) ?? 0) + 1)
  }
  // Counts {1, 3}: P(c) = 1/2, P(a) = P(b) = 1/4 (by raw frequency c would be 3/5).
  t.true(Math.abs(freq.get("c")! / n - 0.5) < 0.03)
  t.true(Math.abs(freq.get("a")! / n - 0.25) < 0.03)
  t.true(Math.abs(freq.get("b")! / n - 0.25) < 0.03)
})

test("very common predicates are accepted with probability 0.2", (t) => {
  const scene: Scene.Scene = {
    ...quadrants,
    relations: [
      { id: 1, subject: 1, predicate: "on", object: 2 },
      { id: 2, subject: 1, predicate: "left of", object: 3 }
    ]
  }
  const next = Random.rng(5)
  let on = 0
  let n = 0
  for (let i = 0; i < 10000; i++) {
    // After eight rejected tries (p = 0.4⁸) the scene yields no relation sample.
    const r = RcTasks.pickRelation(scene, next)
    if (r === undefined) continue
    n++
    if (r.predicate === "on") on++
  }
  // Each try draws uniformly and keeps "on" with p = 0.2: P(on) = 0.1 / (1 − 0.4) = 1/6.
  t.true(n > 9900)
  t.true(Math.abs(on / n - 1 / 6) < 0.02, `P(on) = ${on / n}`)
})

test("relation, detection and counting answers", (t) => {
  const scene: Scene.Scene = {
    ...quadrants,
    objects: [...quadrants.objects, obj(7, "circle", 60, 5, 30, 30)],
    relations: [
      { id: 1, subject: 1, predicate: "left of", object: 3 },
      { id: 2, subject: 1, predicate: "left of", object: 5 }
    ]
  }
  const next = Random.rng(9)
  const seen = new Set<string>()
  for (let i = 0; i < 300; i++) {
    for (const task of ["relation", "detection", "counting"] as const) {
      const s = RcTasks.sampleTask(task, scene, next)!
      seen.add(`${task}/${s.subtype}`)
      if (task === "relation" && s.subtype === "two-boxes") t.regex(s.answer, /^square is left of (star|bar)$/)
      if (task === "relation" && s.subtype === "names") t.is(s.answer, "bar, star")
      if (task === "relation" && s.subtype === "boxes") t.is(s.answer, "[0.700,0.750,0.820,0.830] [0.800,0.100,0.950,0.250]")
      const cls = /<cls>(\w+)<\/cls>/.exec(s.instruction)?.[1]
      if (task === "counting" && cls !== undefined) t.is(s.answer, String(scene.objects.filter((o) => o.name === cls).length))
      if (task === "detection" && cls === "circle") t.is(s.answer, "[0.050,0.050,0.150,0.150] [0.600,0.050,0.900,0.350]")
    }
  }
  t.is(seen.size, 8, [...seen].join(" "))
})

test("at least eight templates per task and sub-type, each with its markers", (t) => {
  for (const [task, subtypes] of Object.entries(RcTasks.TEMPLATES)) {
    for (const [subtype, templates] of Object.entries(subtypes)) {
      t.true(templates.length >= 8, `${task}/${subtype}: ${templates.length}`)
      t.is(new Set(templates).size, templates.length, `${task}/${subtype} has duplicates`)
    }
  }
})

test("box text round-trips through formatting and parsing", (t) => {
  const next = Random.rng(1)
  for (let i = 0; i < 500; i++) {
    const b = Box.round3([next(), next(), next(), next()])
    const text = Box.format(b)
    t.regex(text, /^\[[01]\.\d{3},[01]\.\d{3},[01]\.\d{3},[01]\.\d{3}\]$/)
    t.deepEqual(Box.parseAll(`see ${text} here`), [b])
  }
})

test("every generated referring expression matches exactly one object: its own", (t) => {
  let regions = 0
  for (let i = 0; i < 300; i++) {
    const { scene } = Scene.generate(i, { seed: 42, minObjects: 3, maxObjects: 7 })
    for (const r of scene.regions) {
      const matches = Expressions.resolve(r.phrase, scene.objects)
      t.is(matches.length, 1, `${r.phrase} in scene ${i}`)
      t.deepEqual(matches[0]!.box, r.box)
      regions++
    }
  }
  t.true(regions > 900)
})
