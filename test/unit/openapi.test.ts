/** fastest-validator → JSON Schema and the document builder, without a broker. */
import { convertRule, paramRules, parseShorthand } from "../../lib/infra/fv-json-schema";
import { authRequirement, buildOpenApi, openApiPath } from "../../lib/infra/openapi";

describe("fastest-validator rules as JSON Schema", () => {
	test("shorthand strings", () => {
		expect(parseShorthand("string|min:3|max:10|optional")).toEqual({ type: "string", min: 3, max: 10, optional: true });
		expect(convertRule("string|min:3|optional")).toEqual({
			schema: { type: "string", minLength: 3 },
			optional: true,
		});
		expect(convertRule("number|integer:true|positive").schema).toEqual({ type: "integer", exclusiveMinimum: 0 });
		expect(convertRule("string[]").schema).toEqual({ type: "array", items: { type: "string" } });
	});

	test("strings, numbers, formats, enum, equal, any", () => {
		expect(convertRule({ type: "string", length: 4, pattern: /^\d+$/ }).schema).toEqual({
			type: "string",
			minLength: 4,
			maxLength: 4,
			pattern: "^\\d+$",
		});
		expect(convertRule({ type: "string", empty: false }).schema).toEqual({ type: "string", minLength: 1 });
		expect(convertRule({ type: "number", min: 0, max: 5, convert: true }).schema).toEqual({
			type: "number",
			minimum: 0,
			maximum: 5,
		});
		expect(convertRule({ type: "email", max: 254 }).schema).toEqual({
			type: "string",
			format: "email",
			maxLength: 254,
		});
		expect(convertRule({ type: "uuid" }).schema).toEqual({ type: "string", format: "uuid" });
		expect(convertRule({ type: "date", convert: true }).schema).toEqual({
			type: ["string", "number"],
			format: "date-time",
		});
		expect(convertRule({ type: "enum", values: ["a", "b"] }).schema).toEqual({ enum: ["a", "b"] });
		expect(convertRule({ type: "equal", value: true }).schema).toEqual({ const: true });
		expect(convertRule({ type: "any" }).schema).toEqual({});
		expect(convertRule({ type: "boolean", default: true })).toEqual({
			schema: { type: "boolean", default: true },
			optional: true,
		});
		expect(convertRule({ type: "string", nullable: true, optional: true })).toEqual({
			schema: { anyOf: [{ type: "string" }, { type: "null" }] },
			optional: true,
		});
		expect(convertRule({ type: "forbidden" })).toEqual({ schema: { not: {} }, optional: true });
	});

	test("arrays, objects (strict or not), records, multi", () => {
		expect(convertRule({ type: "array", items: "number", min: 1, max: 3, unique: true }).schema).toEqual({
			type: "array",
			items: { type: "number" },
			minItems: 1,
			maxItems: 3,
			uniqueItems: true,
		});
		const obj = convertRule({
			type: "object",
			strict: true,
			props: { a: "string", b: { type: "number", optional: true } },
		});
		expect(obj.schema).toEqual({
			type: "object",
			properties: { a: { type: "string" }, b: { type: "number" } },
			required: ["a"],
			additionalProperties: false,
		});
		expect(convertRule({ type: "object", strict: "remove", props: {} }).schema.additionalProperties).toBeUndefined();
		expect(convertRule({ type: "record", value: "number" }).schema).toEqual({
			type: "object",
			additionalProperties: { type: "number" },
		});
		expect(convertRule([{ type: "string" }, { type: "number" }]).schema).toEqual({
			anyOf: [{ type: "string" }, { type: "number" }],
		});
		expect(convertRule({ type: "multi", rules: ["string|optional", "number|optional"] }).optional).toBe(true);
	});

	test("top-level params leave out $$ keys", () => {
		const rules = paramRules({ $$strict: "remove", id: "string", page: { type: "number", default: 1 } });
		expect([...rules.keys()]).toEqual(["id", "page"]);
		expect(rules.get("page")?.optional).toBe(true);
	});
});

describe("the document", () => {
	const doc = buildOpenApi([
		{
			method: "PUT",
			path: "/api/things/:id",
			action: "things.update",
			type: "call",
			params: { id: "string", name: "string|min:2", note: "string|optional" },
			auth: { roles: ["admin"], mfa: true },
		},
		{
			method: "GET",
			path: "/api/things",
			action: "things.list",
			type: "call",
			params: { $$strict: "remove", q: "string|optional" },
			auth: "public",
		},
	]);
	const paths = doc.paths as Record<string, Record<string, Record<string, unknown>>>;

	test("paths, path and query params, strict body", () => {
		expect(openApiPath("/api/a/:id/b/:code")).toEqual({ path: "/api/a/{id}/b/{code}", names: ["id", "code"] });
		const update = paths["/api/things/{id}"].put;
		expect(update.parameters).toEqual([{ name: "id", in: "path", required: true, schema: { type: "string" } }]);
		expect(update.requestBody).toEqual({
			required: true,
			content: {
				"application/json": {
					schema: {
						type: "object",
						properties: { name: { type: "string", minLength: 2 }, note: { type: "string" } },
						required: ["name"],
						additionalProperties: false,
					},
				},
			},
		});
		expect(paths["/api/things"].get.parameters).toEqual([
			{ name: "q", in: "query", required: false, schema: { type: "string" } },
		]);
	});

	test("auth and error answers", () => {
		expect(authRequirement(undefined)).toEqual({ public: false, roles: [], mfa: false });
		const update = paths["/api/things/{id}"].put;
		expect(update.security).toEqual([{ bearerAuth: [] }]);
		expect(update["x-auth"]).toEqual({ roles: ["admin"], mfa: true });
		expect(Object.keys(update.responses as object)).toEqual(
			expect.arrayContaining(["200", "400", "401", "403", "404", "409", "422", "429", "503"]),
		);
		const list = paths["/api/things"].get;
		expect(list.security).toBeUndefined();
		expect(Object.keys(list.responses as object)).not.toContain("403");
	});
});
