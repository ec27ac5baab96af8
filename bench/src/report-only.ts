/** `pnpm --filter @tollgate/bench report`: regenerate RESULTS.md and ratio.svg from the JSON files. */
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { writeReports } from './report.js'

const dir =
  process.env.BENCH_RESULTS_DIR ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'results')
console.log(`wrote ${writeReports(dir).join(', ')}`)
