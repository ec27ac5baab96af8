/** redis-concurrency.test.ts again, every store on a node-redis client (DESIGN.md, "Redis clients"). */
import { useClientKind } from './support/clients.js'

useClientKind('node-redis')
await import('./redis-concurrency.test.js')
