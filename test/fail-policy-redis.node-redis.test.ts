/** fail-policy-redis.test.ts again, every store on a node-redis client (packages/redis/README.md, "Which clients"). */
import { useClientKind } from './support/clients.js'

useClientKind('node-redis')
await import('./fail-policy-redis.test.js')
