/**
 * Scene layouts: a scene written as text for the LM, laid out on the ViT's grid. Cell k of the
 * `grid` × `grid` split holds the words of the object that covers it (Patches.ts' rule) — its
 * colour, size and category, then its box — or nothing for the background. The LM reads each cell
 * as one position, the bag of its words' embeddings (Layouts in src/train), so a layout has
 * exactly the shape of the image tokens it stands in for. The LM never sees an image: the
 * layout is the text, and the questions asked about it are the grounding tasks Pink relies on the
 * LM for — a phrase to its box, a box to its phrase — and a caption.
 */
import * as General from "./General.ts"
import * as Patches from "./Patches.ts"
import type { Random } from "./RcTasks.ts"
import * as RcTasks from "./RcTasks.ts"
import type { Scene } from "./Scene.ts"

export interface Cell {
  /** The covering object's words, each with its leading space: ` red`, ` small`, ` circle`. */
  readonly words: ReadonlyArray<string>
  /** Its box as model text, `[x0,y0,x1,y1]`. */
  readonly box: string
}

/** The cells of a scene, row-major; undefined for background. */
export const cells = (scene: Scene, grid: number): Array<Cell | undefined> => {
  const t = Patches.patchTargets(scene, grid)
  const boxes = new Map(scene.objects.map((o) => [o.id, RcTasks.boxText(scene, o.box)]))
  return Array.from(t.object, (isObject, p) => {
    if (isObject !== 1) return undefined
    const o = scene.objects[t.owner[p]!]!
    return { words: [` ${o.attributes[0]}`, ` ${o.attributes[1]}`, ` ${o.name}`], box: boxes.get(o.id)! }
  })
}

export interface Turn {
  readonly task: RcTasks.Task | "caption"
  readonly instruction: string
  readonly answer: string
}

/**
 * Which questions a layout is asked: `grounding` — a phrase to its box (70 %), a box to its phrase
 * (25 %), a caption (5 %); `rc` — every one of Pink's RC tasks, as Llama can answer them about a
 * scene written out: the same captions (5 %), grounding (45 %) and box-to-phrase (15 %) questions,
 * and relation, spatial, detection and counting questions (35 % together, equal shares).
 */
export type Questions = "grounding" | "rc"

const OTHER_TASKS = ["relation", "spatial", "detection", "counting"] as const

/** One question about a scene's layout (markers removed: the LM never sees them), or undefined. */
export const question = (scene: Scene, next: Random, kinds: Questions = "grounding"): Turn | undefined => {
  const u = next()
  if (u < 0.05) {
    const c = General.captionSample(scene, next)
    return { task: "caption", ...c }
  }
  const task: RcTasks.Task = kinds === "grounding"
    ? (u < 0.75 ? "grounding" : "grounding-caption")
    : u < 0.5 ? "grounding" : u < 0.65 ? "grounding-caption" : OTHER_TASKS[Math.min(3, Math.floor(((u - 0.65) / 0.35) * 4))]!
  const s = RcTasks.sampleTask(task, scene, next)
  return s === undefined ? undefined : { task, instruction: RcTasks.withoutMarkers(s.instruction), answer: s.answer }
}

/**
 * Up to `n` questions of `kinds` about a scene, each about an object no earlier one was about: a
 * phrase's answer and a box to describe (or any other turn that writes a box) put the object's box
 * in the conversation, and asked again, its answer could be copied from there instead of being
 * found in the layout (with eight questions over 3–6 objects, 41 % of the grounding questions were
 * such repeats). Fewer when the scene runs out of described objects.
 */
export const questions = (scene: Scene, n: number, next: Random, kinds: Questions = "grounding"): Array<Turn> => {
  const out: Array<Turn> = []
  let regions = scene.regions
  for (let k = 0; k < n && regions.length > 0; k++) {
    const q = question({ ...scene, regions }, next, kinds)
    if (q === undefined) continue
    out.push(q)
    // Any box the turn writes (a grounding answer, a described box, a detection's or a relation's boxes).
    const said = q.task === "caption" ? "" : `${q.instruction} ${q.answer}`
    regions = regions.filter((r) => !said.includes(RcTasks.boxText(scene, r.box)))
  }
  return out
}
