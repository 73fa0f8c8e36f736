/**
 * fastest-validator as Moleculer's validator, strict by default: a params schema rejects fields it
 * does not name (a 422 that lists them) unless the schema says `$$strict: false`.
 */
import { Validators } from "moleculer";

export class StrictValidator extends (Validators.Fastest as any) {
	compile(schema: Record<string, unknown>) {
		const strict = schema && schema.$$strict === undefined && !schema.$$root ? { $$strict: true, ...schema } : schema;
		return super.compile(strict);
	}
}
