/**
 * LLaVA's JSON formats: conversations (`[{id, image, conversations: [{from: "human"|"gpt", value}]}]`,
 * the `<image>` placeholder in the first human turn) and captions (LLaVA-CC3M-Pretrain's
 * `chat.json`, the same conversation form with one turn pair, or its `metadata.json`,
 * `[{id, image, caption}]`), read into (image, instruction, answer) pairs.
 */
import * as Vg from "./Vg.ts"

export interface Turn {
  readonly id: string
  readonly image: string
  readonly instruction: string
  readonly answer: string
}

interface Conversation {
  readonly id: string | number
  readonly image?: string
  readonly conversations?: ReadonlyArray<{ readonly from: string; readonly value: string }>
  readonly caption?: string
}

/** Every human → gpt turn of every record that has an image. */
export const load = (file: string): Array<Turn> => {
  const records = Vg.readJson<Array<Conversation>>(file)
  if (!Array.isArray(records)) throw new Vg.DatasetError(file, undefined, "expected a JSON array")
  const turns: Array<Turn> = []
  records.forEach((r, index) => {
    const where = `record ${r.id ?? index}`
    if (typeof r.image !== "string") return
    if (typeof r.caption === "string") {
      turns.push({ id: String(r.id), image: r.image, instruction: "Describe the image briefly.", answer: r.caption })
      return
    }
    if (!Array.isArray(r.conversations)) throw new Vg.DatasetError(file, where, "has neither conversations nor caption")
    for (let i = 0; i + 1 < r.conversations.length; i += 2) {
      const human = r.conversations[i]!
      const gpt = r.conversations[i + 1]!
      if (human.from !== "human" || gpt.from !== "gpt") throw new Vg.DatasetError(file, `${where}, turn ${i / 2}`, `expected a human turn then a gpt turn, got ${human.from} then ${gpt.from}`)
      turns.push({ id: `${r.id}-${i / 2}`, image: r.image, instruction: human.value.replace(/<image>\s*/g, "").trim(), answer: gpt.value.trim() })
    }
  })
  return turns
}
