import { strykerConfig } from './base.mjs'

// The TypeScript of @tollgate/redis; its Lua scripts have their own check (pnpm mutation:lua).
export default strykerConfig('redis')
