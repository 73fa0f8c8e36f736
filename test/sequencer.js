/**
 * Jest's default order, except that the OpenAPI test runs last: its "recorded run" case checks every
 * HTTP answer the files before it recorded (test/global-setup.ts points OPENAPI_CONTRACT_LOG at a
 * fresh file), so a whole `npm test` replays the suite's calls against the document.
 */
const Sequencer = require("@jest/test-sequencer").default;

const LAST = /test[\\/]http[\\/]openapi\.test\.ts$/;

class OpenApiLastSequencer extends Sequencer {
	sort(tests) {
		const sorted = super.sort(tests);
		return [...sorted.filter((t) => !LAST.test(t.path)), ...sorted.filter((t) => LAST.test(t.path))];
	}
}

module.exports = OpenApiLastSequencer;
