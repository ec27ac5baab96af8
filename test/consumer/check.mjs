#!/usr/bin/env node
/**
 * The typed consumer check (`pnpm test:consumer`, run by CI): what a user who installs the packages
 * meets, outside the workspace. It packs every package (`pnpm pack`), installs the tarballs into a
 * scratch app in the OS temp dir, and compiles that app under the strictest settings a user may have
 * (strict, exactOptionalPropertyTypes, noUncheckedIndexedAccess, skipLibCheck: false):
 *   - as ESM with module/moduleResolution NodeNext, and with moduleResolution Bundler;
 *   - as CJS with NodeNext, and with moduleResolution node (node10);
 * then runs the ESM and both CJS builds (against a redis-server of its own when one is on PATH).
 * A second app is a @fastify/session user's (test/consumer/fastify-session): the tarballs with
 * fastify, @fastify/session and ioredis but neither express-session nor @types/express-session,
 * compiled the same ways (ESM NodeNext, CJS NodeNext, CJS node10) and run.
 * Every ```ts snippet of the READMEs and docs/ is extracted and compiled too (ESM, NodeNext); a
 * snippet's free names (placeholders such as `app` or `login`) are declared for it, the names the
 * packages export are imported for it. A snippet that is not code (a signature listing) opts out
 * with `<!-- consumer-check: skip -->` on the line before its fence.
 *
 * Flags: --no-build (use the existing dist), --keep (leave the scratch dir and print it).
 */
import { execFileSync, spawn } from 'node:child_process'
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { basename, dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..', '..')
const args = new Set(process.argv.slice(2))
const started = Date.now()
const log = (message) =>
  console.log(`consumer: ${message} (${((Date.now() - started) / 1000).toFixed(1)} s)`)

const PACKAGES = ['core', 'redis', 'express', 'fastify', 'session']
// Third-party packages the app installs, at the versions the workspace resolved (so the install is
// served from the pnpm store the workspace install filled).
const DEPENDENCIES = [
  'redis',
  'express',
  'express-session',
  'fastify',
  'ioredis',
  '@fastify/session',
  '@fastify/cookie',
]
const DEV_DEPENDENCIES = ['typescript', '@types/node', '@types/express', '@types/express-session']

const requireFromRoot = createRequire(join(root, 'packages', 'session', 'package.json'))
function installedVersion(name) {
  for (const from of [requireFromRoot, createRequire(join(root, 'package.json'))]) {
    try {
      return JSON.parse(readFileSync(from.resolve(`${name}/package.json`), 'utf8')).version
    } catch {}
  }
  throw new Error(`${name} is not installed in the workspace: run pnpm install first`)
}

// Free names in snippets that are placeholders for the user's own things, typed where a type
// makes the check stronger. Anything else unknown is `any`.
const PLACEHOLDER_TYPES = {
  algorithm: "import('@tollgate/core').Algorithm",
  store: "import('@tollgate/core').Store",
  limiter: "import('@tollgate/core').Limiter",
  client: "import('ioredis').Redis",
  redis: "import('ioredis').Redis",
}
const THIRD_PARTY_IMPORTS = {
  express: "import express from 'express'",
  Fastify: "import Fastify from 'fastify'",
  fastify: "import Fastify from 'fastify'\nconst fastify = Fastify()",
  Redis: "import { Redis } from 'ioredis'",
  Cluster: "import { Cluster } from 'ioredis'",
  session: "import session from 'express-session'",
}

const work = mkdtempSync(join(tmpdir(), 'tollgate-consumer-'))
let redis
try {
  await run()
} finally {
  redis?.kill('SIGTERM')
  if (args.has('--keep')) console.log(`consumer: scratch dir kept at ${work}`)
  else rmSync(work, { recursive: true, force: true })
}

async function run() {
  if (!args.has('--no-build')) {
    execFileSync('pnpm', ['-r', '--filter', './packages/*', 'build'], {
      cwd: root,
      stdio: 'ignore',
    })
    log('built the packages')
  }

  const tarballs = join(work, 'tarballs')
  const tarballOf = {}
  // In parallel: each `pnpm pack` is mostly pnpm starting up.
  await Promise.all(
    PACKAGES.map(
      (name) =>
        new Promise((resolve, reject) => {
          const child = spawn('pnpm', ['pack', '--pack-destination', tarballs], {
            cwd: join(root, 'packages', name),
            stdio: ['ignore', 'pipe', 'inherit'],
          })
          let out = ''
          child.stdout.on('data', (d) => {
            out += d
          })
          child.once('error', reject)
          child.once('exit', (code) => {
            if (code !== 0) return reject(new Error(`pnpm pack of ${name} failed`))
            const file = out.trim().split('\n').pop()
            tarballOf[`@tollgate/${name}`] =
              `file:${file.startsWith('/') ? file : join(tarballs, basename(file))}`
            resolve()
          })
        }),
    ),
  )
  log('packed the packages')

  const app = join(work, 'app')
  installApp(app, tarballOf, DEPENDENCIES, DEV_DEPENDENCIES)
  log('installed the tarballs into a scratch app')

  // The same sources as an ESM package and as a CJS package.
  for (const [dir, type] of [
    ['esm', 'module'],
    ['cjs', 'commonjs'],
  ]) {
    mkdirSync(join(app, dir))
    writeFileSync(join(app, dir, 'package.json'), JSON.stringify({ type }))
    for (const file of ['app.ts', 'run.ts'])
      copyFileSync(join(here, 'app', file), join(app, dir, file))
  }
  const snippets = extractSnippets(join(app, 'snippets'))
  writeFileSync(join(app, 'snippets', 'package.json'), JSON.stringify({ type: 'module' }))

  const ts = createRequire(join(app, 'package.json'))('typescript')
  const strict = {
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    skipLibCheck: false,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts'],
    types: ['node'],
    esModuleInterop: true,
    forceConsistentCasingInFileNames: true,
  }
  const builds = [
    {
      name: 'ESM, NodeNext',
      files: ['esm/app.ts', 'esm/run.ts'],
      options: {
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        outDir: 'out/esm',
      },
      out: 'out/esm',
      type: 'module',
    },
    {
      name: 'ESM, Bundler',
      files: ['esm/app.ts', 'esm/run.ts'],
      options: {
        module: ts.ModuleKind.ESNext,
        moduleResolution: ts.ModuleResolutionKind.Bundler,
        noEmit: true,
      },
    },
    {
      name: 'CJS, NodeNext',
      files: ['cjs/app.ts', 'cjs/run.ts'],
      options: {
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        outDir: 'out/cjs',
      },
      out: 'out/cjs',
      type: 'commonjs',
    },
    {
      name: 'CJS, node (node10)',
      files: ['cjs/app.ts', 'cjs/run.ts'],
      options: {
        module: ts.ModuleKind.CommonJS,
        moduleResolution: ts.ModuleResolutionKind.Node10,
        outDir: 'out/cjs-node10',
      },
      out: 'out/cjs-node10',
      type: 'commonjs',
    },
  ]
  let failures = 0
  for (const build of builds) {
    const options = { ...strict, ...build.options }
    if (options.outDir) options.outDir = join(app, options.outDir)
    const program = ts.createProgram(
      build.files.map((f) => join(app, f)),
      options,
    )
    const diagnostics = ts.getPreEmitDiagnostics(program)
    if (diagnostics.length === 0 && !options.noEmit) program.emit()
    failures += report(ts, `app (${build.name})`, diagnostics, app)
    if (build.out) {
      mkdirSync(join(app, build.out), { recursive: true })
      writeFileSync(join(app, build.out, 'package.json'), JSON.stringify({ type: build.type }))
    }
  }
  log(`compiled the app 4 ways (${failures} errors)`)

  failures += compileSnippets(ts, app, snippets, strict)
  log(`compiled ${snippets.length} README snippets`)
  if (failures > 0) throw new Error(`consumer: ${failures} type errors (above)`)

  const env = { ...process.env }
  delete env.REDIS_URL
  if (hasRedisServer()) env.REDIS_URL = await startRedis()
  for (const build of builds.filter((b) => b.out)) {
    const out = execFileSync('node', [join(app, build.out, 'run.js')], {
      cwd: app,
      env,
      encoding: 'utf8',
    })
    log(`ran the ${build.name} build: ${out.trim()}${env.REDIS_URL ? ' (with Redis)' : ''}`)
  }
  // As express-rate-limit's: `const rateLimit = require('@tollgate/express')` is the factory.
  const callable = execFileSync(
    'node',
    [
      '-e',
      "const r = require('@tollgate/express'); console.log(typeof r, r.rateLimit === r, r.default === r)",
    ],
    { cwd: app, encoding: 'utf8' },
  ).trim()
  if (callable !== 'function true true')
    throw new Error(`require('@tollgate/express') is not callable: ${callable}`)
  log("require('@tollgate/express') is the rateLimit function")

  await fastifySessionApp(ts, strict, tarballOf, env)
  log('passed')
}

/** A scratch app with the given tarballs and third-party packages, installed from the pnpm store. */
function installApp(app, tarballOf, dependencies, devDependencies) {
  mkdirSync(app)
  const versions = (names) => Object.fromEntries(names.map((n) => [n, installedVersion(n)]))
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify(
      {
        name: `tollgate-consumer-${basename(app)}`,
        private: true,
        type: 'module',
        dependencies: { ...tarballOf, ...versions(dependencies) },
        devDependencies: versions(devDependencies),
        // The tarballs depend on @tollgate/core by version, which is not on the registry yet.
        pnpm: { overrides: { '@tollgate/core': tarballOf['@tollgate/core'] } },
      },
      null,
      2,
    ),
  )
  execFileSync(
    'pnpm',
    ['install', '--prefer-offline', '--ignore-workspace', '--config.strict-peer-dependencies=true'],
    { cwd: app, stdio: ['ignore', 'ignore', 'inherit'] },
  )
}

/**
 * A @fastify/session user's app (issue 12, item 4): @tollgate/session must compile and run without
 * express-session or its types. The check first makes sure neither can be resolved from the
 * installed @tollgate/session, so a stray install cannot make it pass.
 */
async function fastifySessionApp(ts, strict, tarballOf, env) {
  const app = join(work, 'fastify-session')
  const { '@tollgate/core': core, '@tollgate/session': sessionTarball } = tarballOf
  installApp(
    app,
    { '@tollgate/core': core, '@tollgate/session': sessionTarball },
    ['fastify', '@fastify/session', '@fastify/cookie', 'ioredis'],
    ['typescript', '@types/node'],
  )
  const fromStore = createRequire(
    realpathSync(join(app, 'node_modules', '@tollgate', 'session', 'package.json')),
  )
  const fromApp = createRequire(join(app, 'package.json'))
  for (const name of ['express-session', '@types/express-session/package.json']) {
    for (const from of [fromStore, fromApp]) {
      let found
      try {
        found = from.resolve(name)
      } catch {}
      if (found)
        throw new Error(`consumer: ${name} is installed in the @fastify/session app (${found})`)
    }
  }
  log('installed a @fastify/session app without express-session or its types')

  const builds = [
    ['esm', 'module', ts.ModuleKind.NodeNext, ts.ModuleResolutionKind.NodeNext],
    ['cjs', 'commonjs', ts.ModuleKind.NodeNext, ts.ModuleResolutionKind.NodeNext],
    ['cjs-node10', 'commonjs', ts.ModuleKind.CommonJS, ts.ModuleResolutionKind.Node10],
  ]
  let failures = 0
  for (const [dir, type, module, moduleResolution] of builds) {
    mkdirSync(join(app, dir))
    writeFileSync(join(app, dir, 'package.json'), JSON.stringify({ type }))
    for (const file of ['app.ts', 'run.ts'])
      copyFileSync(join(here, 'fastify-session', file), join(app, dir, file))
    const out = join(app, 'out', dir)
    const options = { ...strict, module, moduleResolution, outDir: out }
    const program = ts.createProgram([join(app, dir, 'app.ts'), join(app, dir, 'run.ts')], options)
    const diagnostics = ts.getPreEmitDiagnostics(program)
    failures += report(ts, `@fastify/session app (${dir})`, diagnostics, app)
    if (diagnostics.length > 0) continue
    program.emit()
    writeFileSync(join(out, 'package.json'), JSON.stringify({ type }))
  }
  if (failures > 0) throw new Error(`consumer: ${failures} type errors in the @fastify/session app`)
  log('compiled the @fastify/session app 3 ways (0 errors)')
  for (const [dir] of builds) {
    const out = execFileSync('node', [join(app, 'out', dir, 'run.js')], {
      cwd: app,
      env,
      encoding: 'utf8',
    })
    log(
      `ran the @fastify/session app (${dir}): ${out.trim()}${env.REDIS_URL ? ' (with Redis)' : ''}`,
    )
  }
}

function report(ts, what, diagnostics, base, mapLine = (file, line) => [file, line]) {
  for (const d of diagnostics) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n')
    if (d.file && d.start !== undefined) {
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start)
      const [file, shown] = mapLine(d.file.fileName, line)
      console.error(
        `${what}: ${relative(base, file)}:${shown + 1}:${character + 1} TS${d.code}: ${message}`,
      )
    } else console.error(`${what}: TS${d.code}: ${message}`)
  }
  return diagnostics.length
}

/** Every ```ts block of the READMEs and docs/, each as its own module. */
function extractSnippets(dir) {
  mkdirSync(dir)
  const sources = [
    'README.md',
    ...PACKAGES.map((p) => `packages/${p}/README.md`),
    ...(existsSync(join(root, 'docs'))
      ? readdirSync(join(root, 'docs'))
          .filter((f) => f.endsWith('.md'))
          .map((f) => `docs/${f}`)
      : []),
  ]
  const snippets = []
  for (const source of sources) {
    const lines = readFileSync(join(root, source), 'utf8').split('\n')
    let open = -1
    let previous = ''
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]
      if (open < 0 && /^```(ts|typescript)\s*$/.test(line)) {
        open = /consumer-check:\s*skip/.test(previous) ? -2 - i : i
      } else if (open !== -1 && /^```\s*$/.test(line)) {
        if (open >= 0) {
          const name = `${source.replace(/[/.]/g, '_')}_${open + 1}.ts`
          snippets.push({
            source,
            line: open + 1,
            file: join(dir, name),
            code: lines.slice(open + 1, i).join('\n'),
          })
        }
        open = -1
      }
      if (line.trim() !== '') previous = line
    }
  }
  return snippets
}

function compileSnippets(ts, app, snippets, strict) {
  const options = {
    ...strict,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    noEmit: true,
    noUnusedLocals: false,
  }
  const exportsOf = packageExports(ts, app, options)
  const preambles = new Map()
  const write = () => {
    for (const s of snippets) {
      const preamble = preambles.get(s.file) ?? ''
      s.offset = preamble === '' ? 0 : preamble.split('\n').length
      writeFileSync(s.file, `${preamble}${s.code}\nexport {}\n`)
    }
  }
  write()
  let program = ts.createProgram(
    snippets.map((s) => s.file),
    options,
  )
  for (const s of snippets) {
    const missing = new Set()
    for (const d of ts.getPreEmitDiagnostics(program, program.getSourceFile(s.file))) {
      const match =
        /^(?:Cannot find name|No value exists in scope for the shorthand property) '([^']+)'/.exec(
          ts.flattenDiagnosticMessageText(d.messageText, '\n'),
        )
      if (match) missing.add(match[1])
    }
    if (missing.size === 0) continue
    const own = /^packages\/(\w+)\//.exec(s.source)?.[1]
    const order = [own, 'core', ...PACKAGES].filter(Boolean).map((p) => `@tollgate/${p}`)
    const lines = []
    for (const name of missing) {
      const from = order.find((pkg) => exportsOf[pkg]?.has(name))
      if (from) lines.push(`import { ${name} } from '${from}'`)
      else if (THIRD_PARTY_IMPORTS[name]) lines.push(THIRD_PARTY_IMPORTS[name])
      else if (name === 'app')
        lines.push(
          s.source.includes('fastify')
            ? "declare const app: import('fastify').FastifyInstance"
            : "declare const app: import('express').Express",
        )
      else lines.push(`declare const ${name}: ${PLACEHOLDER_TYPES[name] ?? 'any'}`)
    }
    preambles.set(s.file, `${lines.join('\n')}\n`)
  }
  write()
  program = ts.createProgram(
    snippets.map((s) => s.file),
    options,
  )
  const byFile = new Map(snippets.map((s) => [s.file, s]))
  let errors = 0
  for (const s of snippets) {
    errors += report(
      ts,
      'README snippet',
      ts.getPreEmitDiagnostics(program, program.getSourceFile(s.file)),
      root,
      (file, line) => {
        const snippet = byFile.get(file)
        return snippet
          ? [join(root, snippet.source), snippet.line + line - snippet.offset]
          : [file, line]
      },
    )
  }
  return errors
}

/** The names (values and types) each installed @tollgate package exports. */
function packageExports(ts, app, options) {
  const probe = join(app, 'snippets', '__exports.ts')
  writeFileSync(
    probe,
    PACKAGES.map((p, i) => `import * as m${i} from '@tollgate/${p}'\nexport { m${i} }\n`).join(''),
  )
  const program = ts.createProgram([probe], options)
  const checker = program.getTypeChecker()
  const result = {}
  const file = program.getSourceFile(probe)
  for (const statement of file.statements) {
    if (!ts.isImportDeclaration(statement)) continue
    const symbol = checker.getSymbolAtLocation(statement.moduleSpecifier)
    if (symbol)
      result[statement.moduleSpecifier.text] = new Set(
        checker.getExportsOfModule(symbol).map((s) => s.name),
      )
  }
  rmSync(probe)
  return result
}

function hasRedisServer() {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

async function startRedis() {
  const port = await new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
    server.once('error', reject)
  })
  redis = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      work,
    ],
    {
      stdio: 'ignore',
    },
  )
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    const pong = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write('PING\r\n'))
      socket.once('data', (d) => {
        socket.destroy()
        resolve(d.toString().startsWith('+PONG'))
      })
      socket.once('error', () => resolve(false))
    })
    if (pong) return `redis://127.0.0.1:${port}`
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error('consumer: redis-server did not answer PING')
}
