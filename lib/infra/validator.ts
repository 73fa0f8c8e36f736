/**
 * fastest-validator as Moleculer's validator, strict by default: a params schema rejects fields it
 * does not name (a 422 that lists them) unless the schema says `$$strict: false`.
 */
import { Validators } from "moleculer";

// Moleculer's typings declare the Fastest validator without its compile(); it is there at run time.
type FastestValidator = new () => { compile(schema: Record<string, unknown>): unknown };

export class StrictValidator extends (Validators.Fastest as unknown as FastestValidator) {
	compile(schema: Record<string, unknown>) {
		const strict = schema && schema.$$strict === undefined && !schema.$$root ? { $$strict: true, ...schema } : schema;
		return super.compile(strict);
	}
}
