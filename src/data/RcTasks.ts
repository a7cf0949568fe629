/**
 * Pink's referential-comprehension instruction tasks, built from Visual-Genome-style scenes
 * (../shared/pink-recipe.md): one of six tasks chosen uniformly per sample, with sub-types,
 * area-sorted multi-box answers, `N/A` for empty answers, the down-sampling of very common
 * predicates, count-balanced class choice, and the `<loc> <des> <cls> <rel>` markers. Answers are
 * never wrapped. Every template below is our own wording.
 */
import * as Box from "./Box.ts"
import type { Scene, SceneObject } from "./Scene.ts"

export interface Sample {
  readonly task: Task | "general"
  readonly subtype: string
  readonly instruction: string
  readonly answer: string
}

export const TASKS = ["grounding", "grounding-caption", "relation", "spatial", "detection", "counting"] as const
export type Task = (typeof TASKS)[number]

/** Predicates so common that they are accepted only with probability 0.2. */
export const COMMON_PREDICATES = new Set(["on", "has", "wearing", "of", "in"])
export const COMMON_ACCEPT = 0.2

export const TEMPLATES = {
  grounding: {
    phrase: [
      "Where is <des>{phrase}</des>? Answer with its box.",
      "Give the bounding box of <des>{phrase}</des>.",
      "Locate <des>{phrase}</des> in the image.",
      "Find <des>{phrase}</des> and give its coordinates.",
      "Which region shows <des>{phrase}</des>? Reply with a box.",
      "Point out <des>{phrase}</des> with a bounding box.",
      "Box the following: <des>{phrase}</des>.",
      "Where in the picture can <des>{phrase}</des> be found?",
      "Output the box that contains <des>{phrase}</des>."
    ]
  },
  "grounding-caption": {
    box: [
      "What is in the region <loc>{box}</loc>?",
      "Describe the object at <loc>{box}</loc> so that it can be told apart from the others.",
      "Give a short phrase for <loc>{box}</loc>.",
      "Name what the box <loc>{box}</loc> shows, uniquely.",
      "Refer to the object inside <loc>{box}</loc> in a few words.",
      "How would you describe <loc>{box}</loc>?",
      "Write a referring expression for <loc>{box}</loc>.",
      "Which thing occupies <loc>{box}</loc>? Describe it."
    ]
  },
  relation: {
    "two-boxes": [
      "How is <loc>{box}</loc> related to <loc>{box2}</loc>?",
      "What is the relation between <loc>{box}</loc> and <loc>{box2}</loc>?",
      "Describe how the object at <loc>{box}</loc> stands with respect to <loc>{box2}</loc>.",
      "State the relationship of <loc>{box}</loc> to <loc>{box2}</loc>.",
      "In one sentence, relate <loc>{box}</loc> and <loc>{box2}</loc>.",
      "What does <loc>{box}</loc> have to do with <loc>{box2}</loc>?",
      "Tell the spatial or visual relation from <loc>{box}</loc> to <loc>{box2}</loc>.",
      "Explain the link between the objects in <loc>{box}</loc> and <loc>{box2}</loc>."
    ],
    boxes: [
      "Which objects is <loc>{box}</loc> <rel>{pred}</rel>? Give their boxes.",
      "Find everything that <loc>{box}</loc> is <rel>{pred}</rel>, as boxes.",
      "Give the boxes of all objects such that <loc>{box}</loc> is <rel>{pred}</rel> them.",
      "List boxes: the object at <loc>{box}</loc> is <rel>{pred}</rel> what?",
      "<loc>{box}</loc> is <rel>{pred}</rel> some objects. Locate them.",
      "Output every box that <loc>{box}</loc> is <rel>{pred}</rel>.",
      "What is <loc>{box}</loc> <rel>{pred}</rel>? Answer with boxes only.",
      "Mark the objects related to <loc>{box}</loc> by <rel>{pred}</rel>."
    ],
    names: [
      "Which objects is <loc>{box}</loc> <rel>{pred}</rel>? Name them.",
      "Name everything that <loc>{box}</loc> is <rel>{pred}</rel>.",
      "What is <loc>{box}</loc> <rel>{pred}</rel>? Give the names.",
      "<loc>{box}</loc> is <rel>{pred}</rel> what? Just the names, please.",
      "List the names of the objects that <loc>{box}</loc> is <rel>{pred}</rel>.",
      "Tell me what <loc>{box}</loc> is <rel>{pred}</rel>.",
      "The object at <loc>{box}</loc> is <rel>{pred}</rel> which things?",
      "Identify, by name, the objects <loc>{box}</loc> is <rel>{pred}</rel>."
    ],
    "boxes-and-names": [
      "Which objects is <loc>{box}</loc> <rel>{pred}</rel>? Give each box and name.",
      "Find and name everything that <loc>{box}</loc> is <rel>{pred}</rel>.",
      "List box and name for every object <loc>{box}</loc> is <rel>{pred}</rel>.",
      "<loc>{box}</loc> is <rel>{pred}</rel> what? Answer with boxes followed by names.",
      "Locate and label the objects that <loc>{box}</loc> is <rel>{pred}</rel>.",
      "What is <loc>{box}</loc> <rel>{pred}</rel>? Give boxes with their names.",
      "Detect the objects related to <loc>{box}</loc> by <rel>{pred}</rel>, naming each.",
      "Show where and what: everything <loc>{box}</loc> is <rel>{pred}</rel>."
    ]
  },
  spatial: {
    "boxes-and-names": [
      "What lies to the {quadrant} of {ref}? Give boxes and names.",
      "List the objects {quadrant} of {ref}, each with its box and name.",
      "Relative to {ref}, which objects are in the {quadrant}? Boxes and names.",
      "Find everything {quadrant} of {ref} and name it.",
      "Name and locate the objects to the {quadrant} of {ref}.",
      "Which things sit {quadrant} of {ref}? Answer with box then name.",
      "Looking from {ref}, what is in the {quadrant} direction? Boxes with names.",
      "Detect and label the objects {quadrant} of {ref}."
    ],
    names: [
      "What lies to the {quadrant} of {ref}? Name the objects.",
      "Which objects are {quadrant} of {ref}? Names only.",
      "Relative to {ref}, what is in the {quadrant}?",
      "Name everything {quadrant} of {ref}.",
      "Tell me the objects to the {quadrant} of {ref}.",
      "Which things sit {quadrant} of {ref}? Just names.",
      "Looking from {ref}, what can be found {quadrant}?",
      "List by name what is {quadrant} of {ref}."
    ],
    boxes: [
      "What lies to the {quadrant} of {ref}? Give boxes.",
      "Locate the objects {quadrant} of {ref}.",
      "Relative to {ref}, which objects are in the {quadrant}? Boxes only.",
      "Give the boxes of everything {quadrant} of {ref}.",
      "Where are the objects to the {quadrant} of {ref}?",
      "Box each thing that sits {quadrant} of {ref}.",
      "Looking from {ref}, output boxes for what is {quadrant}.",
      "Mark every object {quadrant} of {ref} with a box."
    ]
  },
  detection: {
    category: [
      "Detect every <cls>{cls}</cls> in the image.",
      "Find all instances of <cls>{cls}</cls>.",
      "Give the boxes of each <cls>{cls}</cls>.",
      "Where are the <cls>{cls}</cls> objects?",
      "Locate all <cls>{cls}</cls> you can see.",
      "Output a box for every <cls>{cls}</cls>.",
      "Mark each <cls>{cls}</cls> with a bounding box.",
      "List the positions of all <cls>{cls}</cls> objects."
    ],
    exemplar: [
      "Find every object of the same kind as <loc>{box}</loc>.",
      "Detect all objects in the category of <loc>{box}</loc>.",
      "Give the boxes of everything like <loc>{box}</loc>.",
      "Which objects belong to the same class as <loc>{box}</loc>? Boxes, please.",
      "Locate all instances of the thing at <loc>{box}</loc>.",
      "Output boxes for each object of the type shown in <loc>{box}</loc>.",
      "Mark all objects that share the category of <loc>{box}</loc>.",
      "Taking <loc>{box}</loc> as an example, find all of its kind."
    ]
  },
  counting: {
    category: [
      "How many <cls>{cls}</cls> are there?",
      "Count the <cls>{cls}</cls> objects.",
      "What is the number of <cls>{cls}</cls> in the image?",
      "Tell me how many <cls>{cls}</cls> you see.",
      "Give the count of <cls>{cls}</cls>.",
      "How many instances of <cls>{cls}</cls> does the picture show?",
      "Count every <cls>{cls}</cls>.",
      "Number of <cls>{cls}</cls> objects?"
    ],
    exemplar: [
      "How many objects are of the same kind as <loc>{box}</loc>?",
      "Count the objects in the category of <loc>{box}</loc>.",
      "How many things like <loc>{box}</loc> are there?",
      "What is the number of objects sharing the class of <loc>{box}</loc>?",
      "Count all instances of the thing at <loc>{box}</loc>.",
      "Tell me how many objects match the type of <loc>{box}</loc>.",
      "How many of the kind shown in <loc>{box}</loc> appear?",
      "Taking <loc>{box}</loc> as an example, count all of its kind."
    ]
  }
} as const

export type Random = () => number

const MARKERS = /<\/?(?:des|loc|cls|rel|qes|opt)>/g

/** A text without its `<des>`, `<loc>`, … markers (for the LM's own pretraining: it never sees them). */
export const withoutMarkers = (text: string): string => text.replace(MARKERS, "")

const pick = <A>(next: Random, items: ReadonlyArray<A>): A => items[Math.floor(next() * items.length)]!

const fill = (template: string, values: Readonly<Record<string, string>>): string =>
  template.replace(/\{(\w+)\}/g, (_, k: string) => values[k] ?? `{${k}}`)

/** A scene's boxes as model text. */
export const boxText = (scene: Scene, b: Box.PixelBox): string => Box.format(Box.round3(Box.normalise(b, scene.width, scene.height)))

const normOf = (scene: Scene, o: SceneObject): Box.Norm => Box.round3(Box.normalise(o.box, scene.width, scene.height))

/** Several objects in one answer: sorted by area, smallest first; `N/A` when there are none. */
export const listAnswer = (scene: Scene, objects: ReadonlyArray<SceneObject>, form: "boxes" | "names" | "boxes-and-names"): string => {
  if (objects.length === 0) return "N/A"
  const sorted = Box.byArea(objects.map((o) => ({ o, box: normOf(scene, o) })))
  switch (form) {
    case "boxes": return sorted.map((x) => Box.format(x.box)).join(" ")
    case "names": return sorted.map((x) => x.o.name).join(", ")
    case "boxes-and-names": return sorted.map((x) => `${Box.format(x.box)} ${x.o.name}`).join(" ")
  }
}

/**
 * Count-balanced class choice: pick a count value uniformly among the distinct per-class counts,
 * then a class with that count uniformly.
 */
export const balancedClass = (objects: ReadonlyArray<SceneObject>, next: Random): string | undefined => {
  const counts = new Map<string, number>()
  for (const o of objects) counts.set(o.name, (counts.get(o.name) ?? 0) + 1)
  if (counts.size === 0) return undefined
  const values = [...new Set(counts.values())].sort((a, b) => a - b)
  const value = pick(next, values)
  return pick(next, [...counts].filter(([, c]) => c === value).map(([n]) => n).sort())
}

/** A relation after down-sampling the very common predicates, or undefined. */
export const pickRelation = (scene: Scene, next: Random) => {
  for (let attempt = 0; attempt < 8 && scene.relations.length > 0; attempt++) {
    const r = pick(next, scene.relations)
    if (!COMMON_PREDICATES.has(r.predicate) || next() < COMMON_ACCEPT) return r
  }
  return undefined
}

const build = (task: Task, scene: Scene, next: Random): Sample | undefined => {
  const byId = new Map(scene.objects.map((o) => [o.id, o]))
  switch (task) {
    case "grounding": {
      if (scene.regions.length === 0) return undefined
      const r = pick(next, scene.regions)
      return { task, subtype: "phrase", instruction: fill(pick(next, TEMPLATES.grounding.phrase), { phrase: r.phrase }), answer: boxText(scene, r.box) }
    }
    case "grounding-caption": {
      if (scene.regions.length === 0) return undefined
      const r = pick(next, scene.regions)
      return { task, subtype: "box", instruction: fill(pick(next, TEMPLATES["grounding-caption"].box), { box: boxText(scene, r.box) }), answer: r.phrase }
    }
    case "relation": {
      const r = pickRelation(scene, next)
      if (r === undefined) return undefined
      const s = byId.get(r.subject)!
      const o = byId.get(r.object)!
      const subtype = pick(next, ["two-boxes", "boxes", "names", "boxes-and-names"] as const)
      if (subtype === "two-boxes") {
        return { task, subtype, instruction: fill(pick(next, TEMPLATES.relation[subtype]), { box: boxText(scene, s.box), box2: boxText(scene, o.box) }), answer: `${s.name} is ${r.predicate} ${o.name}` }
      }
      const targets = scene.relations.filter((x) => x.subject === s.id && x.predicate === r.predicate).map((x) => byId.get(x.object)!)
      return { task, subtype, instruction: fill(pick(next, TEMPLATES.relation[subtype]), { box: boxText(scene, s.box), pred: r.predicate }), answer: listAnswer(scene, targets, subtype) }
    }
    case "spatial": {
      if (scene.objects.length === 0) return undefined
      const ref = pick(next, scene.objects)
      const region = scene.regions.find((x) => x.box.x === ref.box.x && x.box.y === ref.box.y && x.box.w === ref.box.w && x.box.h === ref.box.h)
      const usePhrase = region !== undefined && next() < 0.5
      const refText = usePhrase ? `<des>${region!.phrase}</des>` : `<loc>${boxText(scene, ref.box)}</loc>`
      const quadrant = pick(next, Box.QUADRANTS)
      const subtype = pick(next, ["boxes-and-names", "names", "boxes"] as const)
      const refNorm = normOf(scene, ref)
      const targets = scene.objects.filter((o) => o !== ref && Box.inQuadrant(refNorm, quadrant, normOf(scene, o)))
      return { task, subtype: `${subtype}${usePhrase ? "/phrase" : "/box"}`, instruction: fill(pick(next, TEMPLATES.spatial[subtype]), { ref: refText, quadrant }), answer: listAnswer(scene, targets, subtype) }
    }
    case "detection":
    case "counting": {
      const cls = balancedClass(scene.objects, next)
      if (cls === undefined) return undefined
      const members = scene.objects.filter((o) => o.name === cls)
      const subtype = pick(next, ["category", "exemplar"] as const)
      const values: Record<string, string> = subtype === "category" ? { cls } : { box: boxText(scene, pick(next, members).box) }
      const instruction = fill(pick(next, TEMPLATES[task][subtype]), values)
      return { task, subtype, instruction, answer: task === "detection" ? listAnswer(scene, members, "boxes") : String(members.length) }
    }
  }
}

/** One sample for a scene: a task chosen uniformly, falling back to another if it cannot be built. */
export const sample = (scene: Scene, next: Random): Sample | undefined => {
  const first = Math.floor(next() * TASKS.length)
  for (let k = 0; k < TASKS.length; k++) {
    const s = build(TASKS[(first + k) % TASKS.length]!, scene, next)
    if (s !== undefined) return s
  }
  return undefined
}

/** A specific task (for tests and targeted data), or undefined if the scene cannot support it. */
export const sampleTask = (task: Task, scene: Scene, next: Random): Sample | undefined => build(task, scene, next)
