import { type Script, script } from './client.js'
import indexCompareLua from './scripts/index-compare.session.lua'
import sessionSetLua from './scripts/session-set.session.lua'
import touchLua from './scripts/touch.session.lua'
import userDirectoryAddLua from './scripts/user-directory-add.session.lua'

/** The store's Lua scripts (KEYS, ARGV and replies are documented at the top of each file). */
export const SCRIPTS = {
  sessionSet: script('sessionSet', sessionSetLua),
  touch: script('touch', touchLua),
  userDirectoryAdd: script('userDirectoryAdd', userDirectoryAddLua),
  indexCompare: script('indexCompare', indexCompareLua),
} as const satisfies Record<string, Script>
