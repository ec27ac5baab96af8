// Lua scripts are inlined as text (tsup loader in tsup.config.ts, a vite plugin in tests). The
// pattern is narrower than '*.lua' so that it cannot collide with another package's declaration.
declare module '*.session.lua' {
  const source: string
  export default source
}
