/** Each real-format loader reads its hand-written fixture; bad files give errors naming file and record. */
import test from "ava"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Coco from "../../src/data/Coco.ts"
import * as Llava from "../../src/data/Llava.ts"
import * as Raster from "../../src/data/Raster.ts"
import * as RefCoco from "../../src/data/RefCoco.ts"
import * as Vg from "../../src/data/Vg.ts"
import { fixture } from "./fixtures.ts"

const vgImages = { "VG_100K_2/1.jpg": [800, 600], "VG_100K/2.jpg": [400, 300] } as const

test("Visual Genome: objects, attributes, relationships and regions join by image", (t) => {
  const dir = fixture("vg", vgImages)
  const { scenes, skipped } = Vg.load(dir)
  t.deepEqual(skipped, [])
  t.is(scenes.length, 2)
  const s = scenes[0]!
  t.is(s.file, path.join("VG_100K_2", "1.jpg"))
  t.deepEqual(s.objects.map((o) => o.name), ["clock", "street", "shade"])
  t.deepEqual(s.objects[0]!.attributes, ["green", "tall"])
  t.deepEqual(s.objects[2]!.attributes, [])
  t.deepEqual(s.relations, [{ id: 15927, subject: 1058498, predicate: "on", object: 5046 }])
  t.deepEqual(s.regions.map((r) => r.phrase), ["the clock is green in colour", "shade is along the street"])
  t.deepEqual(s.regions[1]!.box, { x: 194, y: 372, w: 376, h: 158 })
  // The image decodes and resizes to the model input without padding.
  const input = Raster.toInput(Raster.read(path.join(dir, s.file)), 32)
  t.is(input.length, 32 * 32 * 3)
  t.true(Math.abs(input[0]! - 128 / 255) < 0.02)
})

test("Visual Genome: a box outside its image, a missing image and malformed JSON are named", (t) => {
  const dir = fixture("vg", vgImages)
  const objects = JSON.parse(fs.readFileSync(path.join(dir, "objects.json"), "utf8"))
  objects[1].objects[0].w = 500
  fs.writeFileSync(path.join(dir, "objects.json"), JSON.stringify(objects))
  const outside = t.throws(() => Vg.load(dir))
  t.is(outside!.message, `${path.join(dir, "objects.json")}: image 2, object 10: box [10,20,500,50] lies outside the 400×300 image`)
  const lenient = Vg.load(dir, { skipBad: true })
  t.is(lenient.scenes.length, 1)
  t.is(lenient.skipped.length, 1)

  fs.rmSync(path.join(dir, "VG_100K_2", "1.jpg"))
  const missing = t.throws(() => Vg.load(dir))
  t.regex(missing!.message, /image_data\.json: image 1: image file https:\/\/\S+\/1\.jpg is missing$/)

  fs.writeFileSync(path.join(dir, "relationships.json"), "[{\"image_id\": 1,")
  const malformed = t.throws(() => Vg.load(dir, { skipBad: true }))
  t.regex(malformed!.message, /relationships\.json: malformed JSON/)
})

test("COCO instances (and Objects365): boxes, categories, images", (t) => {
  const dir = fixture("coco", { "000000397133.jpg": [640, 427], "000000037777.jpg": [352, 230] })
  const { scenes } = Coco.load(path.join(dir, "instances.json"), dir)
  t.is(scenes.length, 2)
  t.deepEqual(scenes[0]!.objects.map((o) => o.name), ["bottle", "person"])
  t.deepEqual(scenes[1]!.objects[0]!.box, { x: 102.49, y: 118.47, w: 7.9, h: 17.31 })
})

test("RefCOCO refs + instances: one item per sentence with its split and normalised box", (t) => {
  const dir = fixture("coco", { "000000397133.jpg": [640, 427], "000000037777.jpg": [352, 230] })
  const items = RefCoco.load(path.join(dir, "refs.json"), path.join(dir, "instances.json"), dir)
  t.deepEqual(items.map((i) => [i.phrase, i.split, i.category]), [
    ["bottle on the left", "testB", "bottle"],
    ["small bottle", "testB", "bottle"],
    ["man cooking", "testA", "person"]
  ])
  const [x0, y0, x1, y1] = items[0]!.box
  t.true(Math.abs(x0 - 217.62 / 640) < 1e-9 && Math.abs(y1 - (240.54 + 57.75) / 427) < 1e-9 && x1 > x0 && y1 > y0)
  const refs = JSON.parse(fs.readFileSync(path.join(dir, "refs.json"), "utf8"))
  refs[0].ann_id = 999
  fs.writeFileSync(path.join(dir, "refs.json"), JSON.stringify(refs))
  const error = t.throws(() => RefCoco.load(path.join(dir, "refs.json"), path.join(dir, "instances.json"), dir))
  t.regex(error!.message, /refs\.json: ref 0: annotation 999 is not in .*instances\.json$/)
})

test("LLaVA conversations and CC3M captions (chat.json and metadata.json)", (t) => {
  const dir = fixture("llava", {})
  const turns = Llava.load(path.join(dir, "conversations.json"))
  t.deepEqual(turns.map((x) => [x.image, x.instruction, x.answer]), [
    ["000000033471.jpg", "What are the colors of the bus in the image?", "The bus in the image is white and red."],
    ["000000033471.jpg", "What feature can be seen on the back of the bus?", "The back of the bus features an advertisement."]
  ])
  const chat = Llava.load(path.join(dir, "chat.json"))
  t.deepEqual(chat.map((x) => [x.instruction, x.answer]), [["Provide a brief description of the given image.", "olive oil is a healthy ingredient used liberally ."]])
  const meta = Llava.load(path.join(dir, "metadata.json"))
  t.is(meta[0]!.answer, "olive oil is a healthy ingredient used liberally .")
})

test("LLaVA conversations become general instruction records, images copied; a missing image is named", async (t) => {
  const Build = await import("../../src/data/Build.ts")
  const dir = fixture("llava", { "000000033471.png": [64, 48] })
  // The fixture names a .jpg; point it at the PNG written above.
  const json = path.join(dir, "conversations.json")
  fs.writeFileSync(json, fs.readFileSync(json, "utf8").replace("000000033471.jpg", "000000033471.png"))
  const out = fs.mkdtempSync(path.join(dir, "out-"))
  const stats = Build.generalFromLlava(json, dir, out)
  t.deepEqual(stats, { samples: 2, images: 1, skipped: [] })
  const rows = Build.readJsonl<{ image: string; width: number; instruction: string }>(path.join(out, "train.jsonl"))
  t.is(rows[0]!.width, 64)
  t.true(fs.existsSync(path.join(out, rows[0]!.image)))
  fs.rmSync(path.join(dir, "000000033471.png"))
  const error = t.throws(() => Build.generalFromLlava(json, dir, fs.mkdtempSync(path.join(dir, "out-"))))
  t.regex(error!.message, /conversations\.json: record 000000033471-0: image file 000000033471\.png is missing$/)
  t.is(Build.generalFromLlava(json, dir, fs.mkdtempSync(path.join(dir, "out-")), { skipBad: true }).skipped.length, 2)
})
