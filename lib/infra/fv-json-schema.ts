/**
 * fastest-validator rules → JSON Schema 2020-12 (the schema dialect of OpenAPI 3.1).
 *
 * Covers what the services' `params` use and the rest of fastest-validator's built-ins: shorthand
 * strings ("string|min:3|optional"), arrays of rules (= multi), any, string (min/max/length,
 * pattern, enum, empty), number (integer, min/max, positive/negative, equal), boolean, email, url,
 * uuid, date, enum, equal, array, object (props, strict), record, tuple, multi, objectID, forbidden;
 * optional, nullable, default and description. A rule it does not know becomes `{}` (any value).
 */

/** A JSON value, and a JSON Schema as a JSON object. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonSchema = { [key: string]: Json };

/** One fastest-validator rule in object form (shorthand strings are parsed into this). */
export type FvRule = { type?: string; [key: string]: unknown };

/** A converted property: its schema and whether the validator lets it be absent. */
export interface ConvertedRule {
	schema: JsonSchema;
	optional: boolean;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
	typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof RegExp);

/** A value as JSON, or undefined when it is not plain data (functions, class instances…). */
export function toJson(value: unknown): Json | undefined {
	if (value === null || typeof value === "string" || typeof value === "boolean") return value;
	if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
	if (Array.isArray(value)) {
		const items = value.map(toJson);
		return items.every((item) => item !== undefined) ? (items as Json[]) : undefined;
	}
	if (isRecord(value) && Object.getPrototypeOf(value) === Object.prototype) {
		const out: { [key: string]: Json } = {};
		for (const [k, v] of Object.entries(value)) {
			const j = toJson(v);
			if (j !== undefined) out[k] = j;
		}
		return out;
	}
	return undefined;
}

/** "string|min:3|optional" → { type: "string", min: 3, optional: true } (fastest-validator's shorthand). */
export function parseShorthand(text: string): FvRule {
	const [type, ...parts] = text.split("|").map((part) => part.trim());
	const rule: FvRule = { type };
	for (const part of parts) {
		const colon = part.indexOf(":");
		if (colon < 0) {
			rule[part] = true;
			continue;
		}
		const key = part.slice(0, colon);
		const raw = part.slice(colon + 1);
		const num = Number(raw);
		rule[key] = raw === "true" ? true : raw === "false" ? false : raw !== "" && Number.isFinite(num) ? num : raw;
	}
	if (rule.type && rule.type.endsWith("[]"))
		return { type: "array", items: rule.type.slice(0, -2), ...without(rule, "type") };
	return rule;
}

function without(rule: FvRule, key: string): FvRule {
	const copy = { ...rule };
	delete copy[key];
	return copy;
}

/** Any rule form (object, shorthand string, array of alternatives) as an object rule. */
export function normalizeRule(rule: unknown): FvRule {
	if (typeof rule === "string") return parseShorthand(rule);
	if (Array.isArray(rule)) return { type: "multi", rules: rule };
	if (isRecord(rule)) return rule as FvRule;
	if (rule === true) return { type: "any" };
	return { type: "any" };
}

const num = (value: unknown): number | undefined =>
	typeof value === "number" && Number.isFinite(value) ? value : undefined;

/** A RegExp (in-process schemas) or its source (schemas that came over the transporter as JSON). */
function patternOf(value: unknown): string | undefined {
	if (value instanceof RegExp) return value.source;
	if (typeof value === "string" && value.length > 0) return value;
	return undefined;
}

function stringSchema(rule: FvRule): JsonSchema {
	const schema: JsonSchema = { type: "string" };
	const length = num(rule.length);
	if (length !== undefined) {
		schema.minLength = length;
		schema.maxLength = length;
	}
	const min = num(rule.min);
	const max = num(rule.max);
	if (min !== undefined) schema.minLength = min;
	if (max !== undefined) schema.maxLength = max;
	if (rule.empty === false && schema.minLength === undefined) schema.minLength = 1;
	const pattern = patternOf(rule.pattern);
	if (pattern) schema.pattern = pattern;
	if (Array.isArray(rule.enum)) schema.enum = toJson(rule.enum) ?? [];
	if (rule.numeric) schema.pattern = schema.pattern ?? "^-?[0-9]+(\\.[0-9]+)?$";
	if (rule.alpha) schema.pattern = schema.pattern ?? "^[a-zA-Z]+$";
	if (rule.alphanum) schema.pattern = schema.pattern ?? "^[a-zA-Z0-9]+$";
	if (rule.hex) schema.pattern = schema.pattern ?? "^[0-9a-fA-F]+$";
	if (rule.base64) schema.contentEncoding = "base64";
	return schema;
}

function numberSchema(rule: FvRule): JsonSchema {
	const schema: JsonSchema = { type: rule.integer ? "integer" : "number" };
	const min = num(rule.min);
	const max = num(rule.max);
	if (min !== undefined) schema.minimum = min;
	if (max !== undefined) schema.maximum = max;
	if (rule.positive) schema.exclusiveMinimum = 0;
	if (rule.negative) schema.exclusiveMaximum = 0;
	const equal = num(rule.equal);
	if (equal !== undefined) schema.const = equal;
	const notEqual = num(rule.notEqual);
	if (notEqual !== undefined) schema.not = { const: notEqual };
	return schema;
}

function arraySchema(rule: FvRule): JsonSchema {
	const schema: JsonSchema = { type: "array" };
	if (rule.items !== undefined) schema.items = convertRule(rule.items).schema;
	const length = num(rule.length);
	if (length !== undefined) {
		schema.minItems = length;
		schema.maxItems = length;
	}
	const min = num(rule.min);
	const max = num(rule.max);
	if (min !== undefined) schema.minItems = min;
	if (max !== undefined) schema.maxItems = max;
	if (rule.empty === false && schema.minItems === undefined) schema.minItems = 1;
	if (rule.unique) schema.uniqueItems = true;
	if (Array.isArray(rule.enum)) schema.items = { enum: toJson(rule.enum) ?? [] };
	return schema;
}

/**
 * An object's properties. `strict` (or `$$strict` at the top): true = unknown properties are
 * refused (additionalProperties: false), "remove" = they are dropped (so still allowed).
 */
export function objectSchema(props: Record<string, unknown>, strict: unknown): JsonSchema {
	const properties: { [key: string]: Json } = {};
	const required: string[] = [];
	for (const [name, raw] of Object.entries(props)) {
		if (name.startsWith("$$")) continue;
		const converted = convertRule(raw);
		properties[name] = converted.schema;
		if (!converted.optional) required.push(name);
	}
	const schema: JsonSchema = { type: "object", properties };
	if (required.length) schema.required = required;
	if (strict === true) schema.additionalProperties = false;
	return schema;
}

/** One rule → its JSON Schema, and whether it is optional. */
export function convertRule(raw: unknown): ConvertedRule {
	const rule = normalizeRule(raw);
	let schema: JsonSchema;
	switch (rule.type) {
		case "string":
			schema = stringSchema(rule);
			break;
		case "number":
			schema = numberSchema(rule);
			break;
		case "boolean":
			schema = { type: "boolean" };
			break;
		case "email":
			schema = { type: "string", format: "email" };
			if (num(rule.max) !== undefined) schema.maxLength = num(rule.max) as number;
			if (num(rule.min) !== undefined) schema.minLength = num(rule.min) as number;
			break;
		case "url":
			schema = { type: "string", format: "uri" };
			break;
		case "uuid":
			schema = { type: "string", format: "uuid" };
			break;
		case "objectID":
			schema = { type: "string", pattern: "^[0-9a-fA-F]{24}$" };
			break;
		case "date":
			// Over HTTP a date is a string (or epoch milliseconds) that the validator converts.
			schema = rule.convert
				? { type: ["string", "number"], format: "date-time" }
				: { type: "string", format: "date-time" };
			break;
		case "enum":
			schema = { enum: toJson(rule.values) ?? [] };
			break;
		case "equal":
			schema = { const: toJson(rule.value) ?? null };
			break;
		case "array":
			schema = arraySchema(rule);
			break;
		case "object": {
			const props = rule.props ?? rule.properties;
			schema = isRecord(props) ? objectSchema(props, rule.strict ?? rule.$$strict) : { type: "object" };
			const minProps = num(rule.minProps);
			const maxProps = num(rule.maxProps);
			if (minProps !== undefined) schema.minProperties = minProps;
			if (maxProps !== undefined) schema.maxProperties = maxProps;
			break;
		}
		case "record":
			schema = {
				type: "object",
				additionalProperties: rule.value !== undefined ? convertRule(rule.value).schema : {},
			};
			if (rule.key !== undefined) schema.propertyNames = convertRule(rule.key).schema;
			break;
		case "tuple":
			schema = Array.isArray(rule.items)
				? { type: "array", prefixItems: rule.items.map((item) => convertRule(item).schema), items: false }
				: { type: "array" };
			break;
		case "multi": {
			const alternatives = Array.isArray(rule.rules) ? rule.rules.map((r) => convertRule(r)) : [];
			schema = { anyOf: alternatives.map((a) => a.schema) };
			if (alternatives.length && alternatives.every((a) => a.optional)) rule.optional = true;
			break;
		}
		case "forbidden":
			// The property must be absent: `not: {}` refuses any value.
			return { schema: { not: {} }, optional: true };
		default:
			// any, custom, function, class, luhn, mac, currency…: no JSON Schema counterpart worth the words.
			schema = {};
	}
	if (rule.nullable) schema = { anyOf: [schema, { type: "null" }] };
	const def = typeof rule.default === "function" ? undefined : toJson(rule.default);
	if (def !== undefined) schema.default = def;
	if (typeof rule.description === "string") schema.description = rule.description;
	if (typeof rule.label === "string" && schema.description === undefined) schema.title = rule.label;
	const optional = rule.optional === true || def !== undefined;
	return { schema, optional };
}

/** The top-level params of an action: name → converted rule (`$$` keys left out). */
export function paramRules(params: unknown): Map<string, ConvertedRule> {
	const rules = new Map<string, ConvertedRule>();
	if (!isRecord(params)) return rules;
	if (params.$$root) {
		const root = convertRule(without(params as FvRule, "$$root"));
		const props = root.schema.properties;
		if (isRecord(props))
			for (const [name, schema] of Object.entries(props))
				rules.set(name, {
					schema: schema as JsonSchema,
					optional: !(Array.isArray(root.schema.required) && root.schema.required.includes(name)),
				});
		return rules;
	}
	for (const [name, rule] of Object.entries(params)) if (!name.startsWith("$$")) rules.set(name, convertRule(rule));
	return rules;
}
