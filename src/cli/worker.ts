/** Entry point of `dist/worker.mjs`, the process a stage with `isolated: true` runs in. */
import * as Worker from "../core/Worker.ts"

Worker.main()
