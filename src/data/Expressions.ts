/**
 * Referring expressions for generated scenes: `the [leftmost|rightmost|topmost|bottommost]
 * [small|medium|large] [colour] <category>`. `describe` picks, at random among those that fit, an
 * expression that matches exactly one object; `resolve` reads an expression back and returns
 * every object it matches, which is how the tests check that each one is unambiguous.
 */
import type { SceneObject } from "./Scene.ts"

const POSITIONS = ["leftmost", "rightmost", "topmost", "bottommost"] as const
type Position = (typeof POSITIONS)[number]

interface Descriptor {
  readonly position?: Position
  readonly size?: string
  readonly colour?: string
  readonly name: string
}

const colourOf = (o: SceneObject) => o.attributes[0]!
const sizeOf = (o: SceneObject) => o.attributes[1]!

const centre = (o: SceneObject, axis: "x" | "y") => axis === "x" ? o.box.x + o.box.w / 2 : o.box.y + o.box.h / 2

const text = (d: Descriptor) => ["the", d.position, d.size, d.colour, d.name].filter((w) => w !== undefined).join(" ")

/** The objects a descriptor matches. */
const matching = (d: Descriptor, objects: ReadonlyArray<SceneObject>): Array<SceneObject> => {
  const base = objects.filter((o) => o.name === d.name && (d.colour === undefined || colourOf(o) === d.colour) && (d.size === undefined || sizeOf(o) === d.size))
  if (d.position === undefined || base.length === 0) return base
  const axis = d.position === "leftmost" || d.position === "rightmost" ? "x" : "y"
  const sign = d.position === "leftmost" || d.position === "topmost" ? 1 : -1
  const best = Math.min(...base.map((o) => sign * centre(o, axis)))
  // An extreme shared by two objects is no extreme: it matches both.
  return base.filter((o) => sign * centre(o, axis) === best)
}

/** A phrase that picks out `target` alone, or undefined when none of the forms can. */
export const describe = (target: SceneObject, objects: ReadonlyArray<SceneObject>, next: () => number): string | undefined => {
  const name = target.name
  const colour = colourOf(target)
  const size = sizeOf(target)
  const forms: Array<Descriptor> = [
    { name },
    { colour, name },
    { size, name },
    { size, colour, name },
    ...POSITIONS.flatMap((position) => [{ position, name }, { position, colour, name }])
  ]
  const unique = forms.filter((d) => {
    const m = matching(d, objects)
    return m.length === 1 && m[0] === target
  })
  if (unique.length === 0) return undefined
  return text(unique[Math.floor(next() * unique.length)]!)
}

const PHRASE = /^the (?:(leftmost|rightmost|topmost|bottommost) )?(?:(small|medium|large) )?(?:(\w+) )?(\w+)$/

/** Every object the phrase matches (empty when it does not parse). */
export const resolve = (phrase: string, objects: ReadonlyArray<SceneObject>): Array<SceneObject> => {
  const m = PHRASE.exec(phrase)
  if (m === null) return []
  return matching({ position: m[1] as Position | undefined, size: m[2], colour: m[3], name: m[4]! }, objects)
}
