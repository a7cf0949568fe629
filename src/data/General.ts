/**
 * The data beside the RC tasks: stage-1 captions, and the general instruction mix of stage 2 —
 * short-answer questions (VQA's role), multiple choice answered `The answer is X.` (A-OKVQA's),
 * and grounded captions where each phrase is followed by its box (Flickr30k's). Our own wording.
 */
import type { Random, Sample } from "./RcTasks.ts"
import { boxText, listAnswer } from "./RcTasks.ts"
import * as Box from "./Box.ts"
import type { Scene, SceneObject } from "./Scene.ts"

export const CAPTION_PROMPTS = [
  "Describe the image briefly.",
  "What does this picture show?",
  "Give a short caption for the image.",
  "Summarise the image in one sentence.",
  "Write a caption.",
  "What can you see here?",
  "Describe the scene in a few words.",
  "Caption this image."
]

const pick = <A>(next: Random, items: ReadonlyArray<A>): A => items[Math.floor(next() * items.length)]!

const phraseOf = (o: SceneObject) => `${o.attributes[1] === "medium" ? "" : `${o.attributes[1]} `}${o.attributes[0]} ${o.name}`

const list = (items: ReadonlyArray<string>) =>
  items.length <= 1 ? items.join("") : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`

/** The stage-1 caption: the objects left to right. */
export const caption = (scene: Scene): string => {
  const ordered = [...scene.objects].sort((a, b) => a.box.x - b.box.x)
  return `${list(ordered.map((o) => `a ${phraseOf(o)}`))}.`
}

export const captionSample = (scene: Scene, next: Random): { readonly instruction: string; readonly answer: string } => ({
  instruction: pick(next, CAPTION_PROMPTS),
  answer: caption(scene)
})

const QA_FRAMES = [
  "<qes>{q}</qes> Answer in one word.",
  "<qes>{q}</qes>",
  "Answer briefly: <qes>{q}</qes>",
  "<qes>{q}</qes> Reply with a single word.",
  "Question: <qes>{q}</qes>",
  "Look at the image. <qes>{q}</qes>",
  "<qes>{q}</qes> Short answer, please.",
  "Please answer: <qes>{q}</qes>"
]

const MC_FRAMES = [
  "<qes>{q}</qes> <opt>{options}</opt> Choose one option.",
  "<qes>{q}</qes> Options: <opt>{options}</opt>",
  "Pick the right answer. <qes>{q}</qes> <opt>{options}</opt>",
  "<qes>{q}</qes> <opt>{options}</opt> Answer with the letter.",
  "Multiple choice: <qes>{q}</qes> <opt>{options}</opt>",
  "<qes>{q}</qes> Which option is correct? <opt>{options}</opt>",
  "Select one: <qes>{q}</qes> <opt>{options}</opt>",
  "<qes>{q}</qes> <opt>{options}</opt>"
]

const GROUNDED_PROMPTS = [
  "Describe the image and give a box after each object you mention.",
  "Caption the image with a bounding box for every object.",
  "List the objects with their boxes.",
  "What is in the image? Follow each object with its box.",
  "Write a grounded description of the picture.",
  "Name every object and where it is.",
  "Describe the scene, boxing each object.",
  "Give each object in the image with its coordinates."
]

const fill = (template: string, values: Readonly<Record<string, string>>) =>
  template.replace(/\{(\w+)\}/g, (_, k: string) => values[k] ?? "")

/** A question about one object, identified by its unambiguous region phrase. */
const question = (scene: Scene, next: Random) => {
  const described = scene.regions.flatMap((r) => {
    const o = scene.objects.find((x) => x.box.x === r.box.x && x.box.y === r.box.y && x.box.w === r.box.w && x.box.h === r.box.h)
    return o === undefined ? [] : [{ o, phrase: r.phrase }]
  })
  if (described.length === 0) return undefined
  const { o, phrase } = pick(next, described)
  const kind = pick(next, ["colour", "size", "shape"] as const)
  const subject = phrase.replace(/^the /, "")
  switch (kind) {
    case "colour": return { q: `What colour is the ${subject}?`, a: o.attributes[0]!, kind }
    case "size": return { q: `How big is the ${subject}?`, a: o.attributes[1]!, kind }
    case "shape": return { q: `What shape is the object at <loc>${boxText(scene, o.box)}</loc>?`, a: o.name, kind }
  }
}

const ALTERNATIVES: Record<"colour" | "size" | "shape", ReadonlyArray<string>> = {
  colour: ["red", "green", "blue", "yellow", "purple", "orange", "black"],
  size: ["small", "medium", "large"],
  shape: ["circle", "square", "triangle", "diamond", "cross", "ring", "bar", "star"]
}

/** One general instruction sample: short answer, multiple choice or grounded caption. */
export const sample = (scene: Scene, next: Random): Sample | undefined => {
  const kind = pick(next, ["short-answer", "multiple-choice", "grounded-caption"] as const)
  if (kind === "grounded-caption") {
    if (scene.objects.length === 0) return undefined
    const ordered = [...scene.objects].sort((a, b) => a.box.x - b.box.x)
    const answer = ordered.map((o) => `a ${phraseOf(o)} ${listAnswer(scene, [o], "boxes")}`).join(", ")
    return { task: "general", subtype: kind, instruction: pick(next, GROUNDED_PROMPTS), answer }
  }
  const q = question(scene, next)
  if (q === undefined) return undefined
  if (kind === "short-answer") return { task: "general", subtype: kind, instruction: fill(pick(next, QA_FRAMES), { q: q.q }), answer: q.a }
  const wrong = ALTERNATIVES[q.kind].filter((x) => x !== q.a)
  const options = [q.a]
  while (options.length < Math.min(4, wrong.length + 1)) {
    const w = pick(next, wrong)
    if (!options.includes(w)) options.push(w)
  }
  // Shuffle the options.
  for (let i = options.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1))
    ;[options[i], options[j]] = [options[j]!, options[i]!]
  }
  const letters = "ABCD"
  const text = options.map((o, i) => `${letters[i]}. ${o}`).join("\n")
  return {
    task: "general",
    subtype: kind,
    instruction: fill(pick(next, MC_FRAMES), { q: q.q, options: text }),
    answer: `The answer is ${letters[options.indexOf(q.a)]}.`
  }
}

/** Visual-7W-style pointing: four box options (truth and three others, shuffled). */
export const pointing = (scene: Scene, next: Random): { readonly instruction: string; readonly answer: string; readonly truth: Box.Norm } | undefined => {
  const regions = scene.regions
  if (regions.length === 0 || scene.objects.length < 2) return undefined
  const r = pick(next, regions)
  const truth = boxText(scene, r.box)
  const others = scene.objects.map((o) => boxText(scene, o.box)).filter((b) => b !== truth)
  const options = [truth]
  for (const o of others) if (options.length < 4 && !options.includes(o)) options.push(o)
  // Fewer than four objects: random boxes of plausible size fill the options.
  while (options.length < 4) {
    const x = next() * 0.7
    const y = next() * 0.7
    const b = Box.format([x, y, x + 0.15 + next() * 0.15, y + 0.15 + next() * 0.15])
    if (!options.includes(b)) options.push(b)
  }
  for (let i = options.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1))
    ;[options[i], options[j]] = [options[j]!, options[i]!]
  }
  const letters = "ABCD"
  return {
    instruction: `Which box shows <des>${r.phrase}</des>? <opt>${options.map((o, i) => `${letters[i]}. ${o}`).join("\n")}</opt>`,
    answer: `The answer is ${letters[options.indexOf(truth)]}.`,
    truth: Box.parseAll(truth)[0]!
  }
}

/** PointQA-style: a question about the object at a point or a box. */
export const pointQa = (scene: Scene, next: Random): { readonly instruction: string; readonly answer: string; readonly subtype: "point" | "box" } | undefined => {
  if (scene.objects.length === 0) return undefined
  const o = pick(next, scene.objects)
  const usePoint = next() < 0.5
  const [cx, cy] = Box.centre(Box.normalise(o.box, scene.width, scene.height))
  const where = usePoint ? Box.formatPoint(cx, cy) : boxText(scene, o.box)
  const ask = pick(next, ["colour", "shape"] as const)
  return {
    instruction: `<qes>What ${ask} is the object at <loc>${where}</loc>?</qes> Answer in one word.`,
    answer: ask === "colour" ? o.attributes[0]! : o.name,
    subtype: usePoint ? "point" : "box"
  }
}
