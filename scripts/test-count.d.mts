// Types of scripts/test-count.mjs, for packages/test-runner-selftest (typechecked with the workspace).
export type TestStatus = 'passed' | 'failed' | 'skipped'
export interface ResultFile {
  tests: { name: string; status: TestStatus }[]
  finished: boolean
  bailed: boolean
  plan: { count: number; reason: string } | undefined
}
export interface Verdict {
  ok: boolean
  skipped: boolean
  why: string
}
export interface Count {
  passed: number
  failed: number
  skipped: number
  failures: string[]
  details: string[]
}
export function readResultFile(text: string): ResultFile
export function readVerdicts(stdout: string): Map<string, Verdict>
export function testFiles(dir: string): string[]
export function savedResults(dir: string): string[]
export function countPackage(run: { name: string; dir: string; files: string[]; stdout: string; runsFailed: boolean }): Count
export function closingLine(count: { passed: number; failed: number; skipped: number }): string
