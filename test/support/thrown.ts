/** What `fn` throws, for asserting an error's class and exact message; fails when it returns. */
export function thrown(fn: () => unknown): Error {
  try {
    fn()
  } catch (error) {
    return error as Error
  }
  throw new Error('did not throw')
}
