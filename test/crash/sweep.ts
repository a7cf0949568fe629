/**
 * The full crash sweep (`npm run test:crash`, also run by CI): every fault point the crash
 * pipeline reaches, each occurrence, killed with SIGKILL and recovered. Prints one line per kill
 * point and a summary; exits 1 if any kill left a problem.
 */
import { crashProject, killAndRecover, killPoints, reference } from "../helpers/crash.ts"

const max = Number(process.argv[2] ?? Infinity)
const p = crashProject()
const ref = reference(p)
const points = killPoints(ref, max)
console.log(`crash sweep: ${points.length} kill points over ${[...ref.points].map(([k, n]) => `${k}×${n}`).join(", ")}`)
let killed = 0
let resumed = 0
const failures: Array<string> = []
for (const { point, n } of points) {
  const o = killAndRecover(p, ref, point, n)
  if (o.killed) killed++
  if (o.resumedFrom !== undefined) resumed++
  const verdict = o.problems.length === 0 ? "ok" : `FAIL ${o.problems.join("; ")}`
  console.log(`${`${point}@${n}`.padEnd(16)} ${o.killed ? "killed" : "not reached"}${o.resumedFrom === undefined ? "" : `, resumed from step ${o.resumedFrom}`}  ${verdict}`)
  if (o.problems.length > 0) failures.push(`${point}@${n}: ${o.problems.join("; ")}`)
}
console.log(`crash sweep: ${points.length} kill points tried, ${killed} killed the run, ${resumed} resumed training from a checkpoint, ${failures.length} with problems`)
if (failures.length > 0) process.exit(1)
