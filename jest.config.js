/** Jest runs TypeScript tests through ts-jest; slow suites (cluster, e2e) set their own timeouts. */
module.exports = {
	preset: "ts-jest",
	testEnvironment: "node",
	roots: ["<rootDir>/test"],
	testMatch: ["**/*.test.ts"],
	testTimeout: 30000,
	transform: { "^.+\\.ts$": ["ts-jest", { isolatedModules: true, diagnostics: false }] },
	setupFiles: ["<rootDir>/test/setup-env.ts"],
	globalSetup: "<rootDir>/test/global-setup.ts",
	testSequencer: "<rootDir>/test/sequencer.js",
};
