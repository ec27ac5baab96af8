import { execFileSync } from 'node:child_process'

/**
 * Builds packages/* so the benchmark measures the current sources through their published entry
 * points (dist). A package that fails to build is reported; its contenders are skipped later.
 */
export function buildPackages(repoDir: string): void {
  console.log('building packages/* (pnpm -r --no-bail --filter ./packages/* build) ...')
  try {
    execFileSync('pnpm', ['-r', '--no-bail', '--filter', './packages/*', 'build'], {
      cwd: repoDir,
      stdio: ['ignore', 'ignore', 'pipe'],
    })
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? '').trim()
    console.warn(
      `warning: some packages did not build; their contenders will be skipped.\n${stderr.split('\n').slice(-8).join('\n')}`,
    )
  }
}
