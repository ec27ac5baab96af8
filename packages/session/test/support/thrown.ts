/** The error `build` throws (the tests pin its class, code and message); fails when it does not throw. */
export function thrown(build: () => unknown): Error & { code?: string } {
  try {
    build()
  } catch (error) {
    return error as Error & { code?: string }
  }
  throw new Error('expected the constructor to throw')
}
