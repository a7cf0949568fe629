/** Evaluation of a Pink model on the held-out splits, by greedy decoding, with per-sample predictions. */
import * as fs from "node:fs"
import * as path from "node:path"
import * as Build from "../data/Build.ts"
import * as Random from "../data/Random.ts"
import * as RefCoco from "../data/RefCoco.ts"
import * as Checkpoint from "../model/Checkpoint.ts"
import * as W from "../model/Weights.ts"
import { answer, GROUNDING } from "../train/Answer.ts"
import { started, type Log } from "../train/Session.ts"
import * as Metrics from "./Metrics.ts"

export interface Prediction {
  readonly id: string
  readonly kind: string
  readonly split: string
  readonly image: string
  readonly prompt: string
  readonly generated: string
  readonly parsed: unknown
  readonly truth: unknown
  readonly correct: boolean
  readonly formatError: boolean
}

/**
 * Evaluation on the held-out splits: REC Acc@0.5 per split (RefCOCO format), Visual-7W-style
 * pointing, PointQA exact match, counting, relation and short-answer accuracy, and the format-error
 * rate, REC by phrase form (`rec/position`, `rec/attributes`); `external` adds a RefCOCO-format split from elsewhere (refs, instances, image directory).
 */
export const evaluate = async (modelDir: string, evalDir: string, out: string, o: { readonly limit: number; readonly batchSize: number; readonly seed: number; readonly log: Log; readonly external?: { readonly refs: string; readonly instances: string; readonly images: string } }) => {
  await started(o.log)
  const { model, tokenizer } = await Checkpoint.load(modelDir)
  const pick = Random.rng(o.seed)
  const template = GROUNDING
  const predictions: Array<Prediction> = []
  /** The held-out REC answers with their phrases, for accuracy by phrase form. */
  const phrases: Array<{ readonly phrase: string; readonly correct: boolean }> = []
  const recSets: Array<{ items: Array<RefCoco.Item>; dir: string; external: boolean }> = [
    { items: RefCoco.load(path.join(evalDir, "refs.json"), path.join(evalDir, "instances.json"), evalDir), dir: evalDir, external: false }
  ]
  if (o.external !== undefined) recSets.push({ items: RefCoco.load(o.external.refs, o.external.instances, o.external.images).map((i) => ({ ...i, split: `external-${i.split}` })), dir: o.external.images, external: true })
  for (const set of recSets) {
    const bySplit = new Map<string, Array<RefCoco.Item>>()
    for (const i of set.items) bySplit.set(i.split, [...(bySplit.get(i.split) ?? []), i])
    for (const [split, items] of bySplit) {
      const chosen = Random.shuffle(items, pick).slice(0, o.limit)
      const prompts = chosen.map((i) => template.replace("{phrase}", i.phrase))
      const answers = await answer(model, tokenizer, chosen.map((i, k) => ({ image: path.join(set.dir, i.image), instruction: prompts[k]! })), 12, o.batchSize, o.log, `REC ${split}`)
      chosen.forEach((i, k) => {
        const r = Metrics.rec(answers[k]!, i.box)
        predictions.push({ id: i.id, kind: "rec", split, image: path.join(set.external ? set.dir : "", i.image), prompt: prompts[k]!, generated: answers[k]!, parsed: r.box, truth: i.box, correct: r.correct, formatError: r.formatError })
        if (!set.external) phrases.push({ phrase: i.phrase, correct: r.correct })
      })
    }
  }
  const jsonl = (kind: string, file: string, maxNew: number, judge: (generated: string, truth: string) => { correct: boolean; formatError: boolean; parsed: unknown }) => async () => {
    const rows = Random.shuffle(Build.readJsonl<Build.Record>(path.join(evalDir, file)), pick).slice(0, o.limit)
    const answers = await answer(model, tokenizer, rows.map((r) => ({ image: path.join(evalDir, r.image), instruction: r.instruction })), maxNew, o.batchSize, o.log, kind)
    rows.forEach((r, k) => {
      const j = judge(answers[k]!, r.answer)
      const split = kind === "tasks" ? r.task === "general" ? "short-answer" : r.task : kind
      predictions.push({ id: r.id, kind, split, image: r.image, prompt: r.instruction, generated: answers[k]!, parsed: j.parsed, truth: r.answer, correct: j.correct, formatError: j.formatError })
    })
  }
  await jsonl("v7w", "v7w.jsonl", 8, (g, t) => {
    const c = Metrics.choice(g)
    return { correct: c !== null && c === Metrics.choice(t), formatError: c === null, parsed: c }
  })()
  await jsonl("pointqa", "pointqa.jsonl", 4, (g, t) => ({ correct: Metrics.exactMatch(g, t), formatError: g.trim() === "", parsed: g }))()
  await jsonl("tasks", "tasks.jsonl", 12, (g, t) => ({ correct: Metrics.exactMatch(g, t), formatError: g.trim() === "", parsed: g }))()
  const groups = new Map<string, Array<Prediction>>()
  for (const p of predictions) groups.set(p.split, [...(groups.get(p.split) ?? []), p])
  const metrics: Record<string, number> = {}
  for (const [split, ps] of [...groups].sort()) {
    const a = Metrics.accuracy(ps)
    metrics[`${ps[0]!.kind === "rec" ? "rec" : "acc"}/${split}`] = a.accuracy
    metrics[`n/${split}`] = a.n
  }
  const all = Metrics.accuracy(predictions)
  metrics["formatErrorRate"] = all.n === 0 ? 0 : all.formatErrors / all.n
  const rec = predictions.filter((p) => p.kind === "rec" && !p.split.startsWith("external"))
  metrics["rec/all"] = Metrics.accuracy(rec).accuracy
  Object.assign(metrics, Metrics.byForm(phrases))
  fs.writeFileSync(path.join(out, "predictions.jsonl"), predictions.map((p) => JSON.stringify(p)).join("\n") + "\n")
  W.dispose(model.weights)
  return metrics
}
