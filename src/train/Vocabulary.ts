/** The LM's vocabulary, from generated scenes alone. */
import * as General from "../data/General.ts"
import * as Random from "../data/Random.ts"
import * as RcTasks from "../data/RcTasks.ts"
import * as Scene from "../data/Scene.ts"
import * as Prompt from "../model/Prompt.ts"
import * as Tok from "../model/Tokenizer.ts"

/**
 * The foundation's vocabulary, from generated scenes alone (never the evaluation splits): every
 * text the data builders write about `scenes` scenes of `seed` — RC tasks, general instructions,
 * captions — every template and the conversation's own words (Prompt.SCAFFOLD), with coordinates
 * written `coordinates`.
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
  texts.push(...Object.values(RcTasks.TEMPLATES).flatMap((t) => Object.values(t).flat()), ...General.CAPTION_PROMPTS, ...Prompt.SCAFFOLD)
  return Tok.fromCorpus(texts, { maxWords: o.maxWords, coordinates: o.coordinates }).vocab
}
