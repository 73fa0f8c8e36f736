// ESLint flat config: TypeScript recommended rules, lenient where Moleculer schemas need `any`;
// Node globals for scripts and benches, browser globals for the web app in public/.
const js = require("@eslint/js");
const tseslint = require("typescript-eslint");
const globals = require("globals");

module.exports = tseslint.config(
	{ ignores: ["dist/**", "node_modules/**", "data/**", "coverage/**"] },
	js.configs.recommended,
	...tseslint.configs.recommended,
	{
		rules: {
			"@typescript-eslint/no-explicit-any": "off",
			"@typescript-eslint/no-require-imports": "off",
			"@typescript-eslint/no-var-requires": "off",
			"@typescript-eslint/no-unused-vars": ["warn", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
			"no-empty": ["error", { allowEmptyCatch: true }],
			// Byte-level checks (file sniffing, CNPJ) legitimately match control characters.
			"no-control-regex": "off",
		},
	},
	{
		// Application code is typed: `any` (and untyped require()) only at commented library boundaries.
		files: ["services/**/*.ts", "lib/**/*.ts", "mixins/**/*.ts", "middlewares/**/*.ts", "moleculer.config.ts"],
		rules: {
			"@typescript-eslint/no-explicit-any": "error",
			"@typescript-eslint/no-require-imports": ["error", { allowAsImport: true }],
		},
	},
	{
		// Domain rules are plain functions: no Node, no IO, no infrastructure (types may be shared).
		files: ["lib/domain/**/*.ts"],
		rules: {
			"@typescript-eslint/no-restricted-imports": [
				"error",
				{
					patterns: [
						{
							group: ["../infra/*", "../../mixins/*", "../../services/*"],
							message: "lib/domain is pure: pass values in instead.",
							allowTypeImports: true,
						},
						{
							regex:
								"^(node:.*|fs|path|os|crypto|http|https|net|child_process|stream|events|util|moleculer|ioredis|nats|mongoose|pg|knex|better-sqlite3|nodemailer|jsonwebtoken)$",
							message: "lib/domain is pure: no Node built-ins or IO libraries.",
						},
					],
				},
			],
		},
	},
	{
		files: ["**/*.js"],
		languageOptions: { sourceType: "commonjs", globals: { ...globals.node } },
		// `const crypto = require("crypto")` is the usual Node idiom, not a redeclaration bug.
		rules: { "no-redeclare": ["error", { builtinGlobals: false }] },
	},
	{ files: ["public/**/*.js"], languageOptions: { sourceType: "module", globals: { ...globals.browser } } },
);
