/**
 * fastest-validator as Moleculer's validator, strict by default: a params schema rejects fields it
 * does not name (a 422 that lists them) unless the schema says `$$strict: false`. Its messages are
 * the English set of lib/infra/validation-messages.ts; the gateway shows them in the caller's language.
 */
import { Validators } from "moleculer";
import { EN_MESSAGES } from "./validation-messages";

// Moleculer's typings declare the Fastest validator without its compile(); it is there at run time.
type FastestValidator = new (opts?: Record<string, unknown>) => { compile(schema: Record<string, unknown>): unknown };

export class StrictValidator extends (Validators.Fastest as unknown as FastestValidator) {
	constructor(opts: Record<string, unknown> = {}) {
		super({ messages: EN_MESSAGES, ...opts });
	}

	compile(schema: Record<string, unknown>) {
		const strict = schema && schema.$$strict === undefined && !schema.$$root ? { $$strict: true, ...schema } : schema;
		return super.compile(strict);
	}
}
