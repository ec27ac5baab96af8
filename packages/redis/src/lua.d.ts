// Lua scripts are imported as text: tsup's text loader inlines them at build time, and the root
// vitest config does the same for tests.
declare module '*.lua' {
  const text: string
  export default text
}
