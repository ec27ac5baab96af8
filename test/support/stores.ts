import type { Store } from '@tollgate/core'

/** A store whose every call fails, standing in for a store that is down (the adapters' tests). */
export const brokenStore: Store = {
  decide: () => Promise.reject(new Error('store down')),
  peek: () => Promise.reject(new Error('store down')),
  refund: () => Promise.reject(new Error('store down')),
  block: () => Promise.reject(new Error('store down')),
  release: () => Promise.reject(new Error('store down')),
  reset: () => Promise.reject(new Error('store down')),
}
