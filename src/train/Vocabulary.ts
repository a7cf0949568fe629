/** The tokenizer's vocabulary, from every text of the training and evaluation data. */
import * as fs from "node:fs"
import * as path from "node:path"
import * as Build from "../data/Build.ts"
import * as RcTasks from "../data/RcTasks.ts"
import type * as RefCoco from "../data/RefCoco.ts"
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
