/**
 * The foundation's vision tower, the miniature's CLIP (pipelines/foundation.ts): the ViT trained
 * at patch level on generated scenes, so its frozen features say what is where.
 */
import * as Checkpoint from "../model/Checkpoint.ts"
import * as Config from "../model/Config.ts"
import * as Pink from "../model/Pink.ts"
import * as Prompt from "../model/Prompt.ts"
import * as Tok from "../model/Tokenizer.ts"
import * as W from "../model/Weights.ts"
import * as Gates from "../eval/Gates.ts"
import * as Pretrain from "./Pretrain.ts"
import { checkpointEvery, pretrainOptions, started, thin, type TrainOptions } from "./Session.ts"

/**
 * The foundation's vision tower: patch-level pretraining of the ViT (Pretrain.vitDense) on
 * `scenes` generated scenes of `sceneSeed` with 1–6 objects (each drawn when a batch first needs
 * it), with the least-squares readout term at weight `readout`; only the ViT is saved. At each checkpoint fresh linear probes
 * of its features on `heldOutScenes` scenes of `heldOutSeed` say what it knows against steps.
 */
export const visionTower = async (out: string, o: TrainOptions, data: { readonly sceneSeed: number; readonly scenes: number; readonly heldOutSeed: number; readonly heldOutScenes: number; readonly readout: number }) => {
  const backend = await started(o.log)
  const c = Config.presets[o.preset]
  const tok = Tok.fromCorpus([])
  const model = Pink.init(c, tok.size, Prompt.imageSlot(tok), o.seed, false)
  // Drawn when a batch first needs them, then kept: drawing a scene costs about as much as a training step's share of it.
  const drawn = new Map<number, Pretrain.DenseItem>()
  const items: Pretrain.DenseSource = { count: data.scenes, at: (i) => drawn.get(i) ?? drawn.set(i, Pretrain.denseItemAt(c, data.sceneSeed, i, 1)).get(i)! }
  o.log(`${items.count} scenes at ${c.vit.imageSize} px${data.readout > 0 ? `, least-squares readout at weight ${data.readout}` : ""}`)
  // Fresh linear probes on held-out scenes (the vision gate's measure, smaller): fitted on the first
  // two thirds, scored on the rest.
  const probeItems = Pretrain.denseItems(c, data.heldOutSeed, data.heldOutScenes)
  const split = Math.round((probeItems.length * 2) / 3)
  const evaluate = { every: checkpointEvery(o), run: async (step: number) => {
    const p = await Gates.vitProbe(model, probeItems.slice(0, split), probeItems.slice(split), { steps: 200, seed: data.heldOutSeed })
    o.log(`step ${step}: held-out probes shape ${(100 * p.shape).toFixed(1)} %, box ${(100 * p.box).toFixed(1)} %`)
    return { colour: p.colour, shape: p.shape, size: p.size, box: p.box }
  } }
  const r = await Pretrain.vitDense(model, items, { ...pretrainOptions(o), evaluate, readout: data.readout })
  await Checkpoint.saveParts(out, model, tok, ["vit/"], { stage: "vision-tower" })
  W.dispose(model.weights)
  return { losses: thin(r.losses), heldOut: r.evaluations, backend: backend.name }
}
