/** redis-store-own-server.test.ts again, every store on a node-redis client (packages/redis/README.md, "Which clients"). */
import { useClientKind } from '../../../test/support/clients.js'

useClientKind('node-redis')
await import('./redis-store-own-server.test.js')
