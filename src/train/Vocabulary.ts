/** The tokenizer's vocabulary: from every text of the training and evaluation data, or from generated scenes alone. */
import * as fs from "node:fs"
import * as path from "node:path"
import * as Build from "../data/Build.ts"
import * as General from "../data/General.ts"
import * as Random from "../data/Random.ts"
import * as RcTasks from "../data/RcTasks.ts"
import type * as RefCoco from "../data/RefCoco.ts"
import * as Scene from "../data/Scene.ts"
import * as Tok from "../model/Tokenizer.ts"

/** The vocabulary: every text of the training and evaluation data. */
export const fromData = (sources: ReadonlyArray<{ readonly dir: string; readonly file: string }>, evalDir: string, maxWords: number): ReadonlyArray<string> => {
  const texts: Array<string> = []
  for (const { dir, file } of sources) {
    for (const r of Build.readJsonl<Build.Record>(path.join(dir, file))) texts.push(r.instruction, r.answer)
  }
  for (const f of ["v7w.jsonl", "pointqa.jsonl", "tasks.jsonl"]) {
    for (const r of Build.readJsonl<Build.Record>(path.join(evalDir, f))) texts.push(r.instruction, r.answer)
  }
  for (const r of JSON.parse(fs.readFileSync(path.join(evalDir, "refs.json"), "utf8")) as Array<RefCoco.Ref>) texts.push(...r.sentences.map((s) => s.sent))
  texts.push(...Object.values(RcTasks.TEMPLATES).flatMap((t) => Object.values(t).flat()))
  return Tok.fromCorpus(texts, { maxWords }).vocab
}

/**
 * The foundation's vocabulary, from generated scenes alone (never the evaluation splits): every
 * text the data builders write about `scenes` scenes of `seed` — RC tasks, general instructions,
 * captions — and every template, with coordinates written `coordinates`.
 */
export const fromScenes = (o: { readonly seed: number; readonly scenes: number; readonly maxWords: number; readonly coordinates: Tok.Coordinates }): ReadonlyArray<string> => {
  const texts: Array<string> = []
  for (let i = 0; i < o.scenes; i++) {
    const scene = Scene.describeScene(i, { seed: o.seed, minObjects: 1, maxObjects: 6 })
    const next = Random.rng(Random.derive(o.seed, 31, i))
    for (const task of RcTasks.TASKS) {
      const s = RcTasks.sampleTask(task, scene, next)
      if (s !== undefined) texts.push(s.instruction, s.answer)
    }
    for (let k = 0; k < 4; k++) {
      const g = General.sample(scene, next)
      if (g !== undefined) texts.push(g.instruction, g.answer)
    }
    const c = General.captionSample(scene, next)
    texts.push(c.instruction, c.answer, ...scene.regions.map((r) => r.phrase))
    for (const q of [General.pointing(scene, next), General.pointQa(scene, next)]) if (q !== undefined) texts.push(q.instruction, q.answer)
  }
  texts.push(...Object.values(RcTasks.TEMPLATES).flatMap((t) => Object.values(t).flat()), ...General.CAPTION_PROMPTS)
  return Tok.fromCorpus(texts, { maxWords: o.maxWords, coordinates: o.coordinates }).vocab
}
