// A second validator for openapi.yaml (the first is openapi-spec-validator, against the
// OpenAPI 3.1 schema): Redocly's lint engine with its `recommended` rules, the checks the
// client generators people use run too. Errors fail; warnings are printed.
//
//   node web/contract/lint.mjs openapi.yaml
import { createConfig, formatProblems, lint } from '@redocly/openapi-core'

const ref = process.argv[2] ?? 'openapi.yaml'
const config = await createConfig({ extends: ['recommended'] })
const problems = await lint({ ref, config })
formatProblems(problems, { format: 'stylish', totals: { errors: 0, warnings: 0, ignored: 0 }, version: 'openapi-core' })
const errors = problems.filter((p) => p.severity === 'error')
const warnings = problems.length - errors.length
console.log(`redocly lint: ${ref}: ${errors.length} errors, ${warnings} warnings`)
process.exit(errors.length > 0 ? 1 : 0)
