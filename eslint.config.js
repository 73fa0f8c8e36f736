// ESLint flat config: TypeScript recommended rules, lenient where Moleculer schemas need `any`.
const js = require("@eslint/js");
const tseslint = require("typescript-eslint");

module.exports = tseslint.config(
	{ ignores: ["dist/**", "node_modules/**", "data/**", "coverage/**", "public/vendor/**"] },
	js.configs.recommended,
	...tseslint.configs.recommended,
	{
		rules: {
			"@typescript-eslint/no-explicit-any": "off",
			"@typescript-eslint/no-require-imports": "off",
			"@typescript-eslint/no-var-requires": "off",
			"@typescript-eslint/no-unused-vars": ["warn", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
			"no-empty": ["error", { allowEmptyCatch: true }],
		},
	},
	{
		files: ["**/*.js"],
		languageOptions: { sourceType: "commonjs", globals: { require: "readonly", module: "writable", process: "readonly", console: "readonly", __dirname: "readonly", setTimeout: "readonly", clearTimeout: "readonly", setInterval: "readonly", clearInterval: "readonly", fetch: "readonly", Buffer: "readonly", URL: "readonly", AbortController: "readonly", TextDecoder: "readonly" } },
	},
);
