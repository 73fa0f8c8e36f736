/**
 * The OpenAPI 3.1 document of the gateway, built from what it routes right now: each alias of the
 * /api route (method, path, action) and that action's definition in the registry (`params`,
 * `auth`, `description`).
 *
 * Why not moleculer-auto-openapi (1.1.7): it writes OpenAPI 3.0.3 (not 3.1), pulls in Swagger UI 4,
 * is untyped JavaScript, reads its own `openapi` keys rather than our `auth` declarations, and does
 * not know the gateway's error body; the part we need (fastest-validator → JSON Schema, aliases →
 * paths) is small, so it is written here (lib/infra/fv-json-schema.ts) and typed.
 */
import { convertRule, Json, JsonSchema, objectSchema, paramRules } from "./fv-json-schema";
import { DECLARED_RESPONSES, DeclaredResponse, ENTITY_SCHEMAS } from "./openapi-responses";
import { CatalogueEntry, ERROR_CATALOGUE, ErrorType } from "../contracts/error-catalogue";

/** One route the gateway exposes, with the definition of the action behind it. */
export interface RoutedAction {
	method: string;
	/** Full path with moleculer-web's `:name` parameters, e.g. /api/orders/:id. */
	path: string;
	action: string;
	/** moleculer-web alias type: "call", or "multipart" for uploads. */
	type: string;
	params?: unknown;
	auth?: unknown;
	description?: string;
}

export type OpenApiDocument = { openapi: string; [key: string]: Json };

/** A field problem: every error's `data.fields` items (validation errors and business rules alike). */
const FIELD_PROBLEM: JsonSchema = {
	type: "object",
	required: ["field", "type", "message"],
	properties: {
		field: { type: "string", description: "The field's path, e.g. `items[0].quantity`" },
		type: {
			type: "string",
			description: "The rule that failed (fastest-validator's, e.g. `required`) or the error type",
		},
		message: { type: "string", description: "For a person, in the request's language" },
	},
};

/** The error body the gateway writes (lib/infra/http-errors.ts errorBody). */
export const ERROR_SCHEMA: JsonSchema = {
	type: "object",
	required: ["type", "message", "code"],
	additionalProperties: false,
	properties: {
		type: {
			enum: Object.keys(ERROR_CATALOGUE),
			description:
				"Stable machine-readable type: the error catalogue (`x-error-catalogue`) gives its status and meaning",
		},
		message: {
			type: "string",
			description: "For a person to read: pt-BR by default, English with `Accept-Language: en` (or the user's locale)",
		},
		code: {
			type: "integer",
			minimum: 400,
			maximum: 599,
			description: "The HTTP status (the catalogue's for the type)",
		},
		data: {
			type: "object",
			description: "Details: `fields` for field problems, the resource of a 404 (`what`, `id`), limits…",
			properties: { fields: { type: "array", items: FIELD_PROBLEM } },
		},
	},
};

/** The catalogue's types grouped by status: the error responses every operation refers to. */
function errorResponses(): Record<string, Json> {
	const byStatus = new Map<number, ErrorType[]>();
	for (const [type, entry] of Object.entries(ERROR_CATALOGUE) as [ErrorType, CatalogueEntry][])
		byStatus.set(entry.status, [...(byStatus.get(entry.status) ?? []), type]);
	const responses: Record<string, Json> = {};
	for (const [status, types] of [...byStatus].sort((a, b) => a[0] - b[0])) {
		const examples: Record<string, Json> = {};
		for (const type of types)
			examples[type] = {
				summary: ERROR_CATALOGUE[type].meaning,
				value: { type, message: ERROR_CATALOGUE[type].message["pt-BR"], code: status },
			};
		responses[`E${status}`] = {
			description: types.map((t) => `${t}: ${ERROR_CATALOGUE[t].meaning}`).join("; "),
			...(status === 429 || status === 503
				? {
						headers: { "Retry-After": { description: "Seconds to wait before retrying", schema: { type: "integer" } } },
					}
				: {}),
			content: { "application/json": { schema: { $ref: "#/components/schemas/Error" }, examples } },
		};
	}
	return responses;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
	typeof value === "object" && value !== null && !Array.isArray(value);

/** What an action's `auth` declares: public, any signed-in user, or roles (and MFA). */
export interface AuthRequirement {
	public: boolean;
	roles: string[];
	mfa: boolean;
}

export function authRequirement(auth: unknown): AuthRequirement {
	if (auth === "public") return { public: true, roles: [], mfa: false };
	if (isRecord(auth)) {
		const roles = Array.isArray(auth.roles) ? auth.roles.filter((r): r is string => typeof r === "string") : [];
		return { public: false, roles, mfa: auth.mfa === true };
	}
	return { public: false, roles: [], mfa: false };
}

/** /api/orders/:id → { path: "/api/orders/{id}", names: ["id"] } (also `:id?` and `*`-free paths). */
export function openApiPath(path: string): { path: string; names: string[] } {
	const names: string[] = [];
	const converted = path.replace(/:([A-Za-z0-9_]+)\??/g, (_m, name: string) => {
		names.push(name);
		return `{${name}}`;
	});
	return { path: converted, names };
}

/** `users.login` → `users_login`: operationIds are unique per action and method. */
const operationId = (route: RoutedAction, many: boolean) =>
	`${route.action.replace(/[^A-Za-z0-9]+/g, "_")}${many ? `_${route.method.toLowerCase()}` : ""}${
		DECLARED_RESPONSES[route.action]?.deprecatedPaths?.includes(route.path) ? "_deprecated" : ""
	}`;

function authText(req: AuthRequirement): string {
	if (req.public) return "Public: no token needed.";
	const who = req.roles.length ? `Roles: ${req.roles.join(", ")}.` : "Any signed-in user.";
	return req.mfa ? `${who} Needs an MFA-verified login (a token from /api/auth/login with \`code\`).` : who;
}

function errorRefs(statuses: string[]): Record<string, Json> {
	const out: Record<string, Json> = {};
	for (const status of statuses) out[status] = { $ref: `#/components/responses/E${status}` };
	return out;
}

function successResponses(declared: DeclaredResponse | undefined): Record<string, Json> {
	const main = declared ?? { status: 200, description: "Success" };
	const content: Record<string, Json> = {};
	for (const [type, schema] of Object.entries(main.content ?? { "application/json": {} })) content[type] = { schema };
	const out: Record<string, Json> = { [String(main.status)]: { description: main.description, content } };
	for (const extra of main.also ?? [])
		out[String(extra.status)] = {
			description: extra.description,
			content: { "application/json": { schema: extra.schema ?? {} } },
		};
	return out;
}

/** One operation of the document. */
function operation(route: RoutedAction, many: boolean): Record<string, Json> {
	const { names } = openApiPath(route.path);
	const rules = paramRules(route.params);
	const req = authRequirement(route.auth);
	const declared = DECLARED_RESPONSES[route.action];
	const method = route.method.toUpperCase();
	const hasBody = method === "POST" || method === "PUT" || method === "PATCH";

	const parameters: Json[] = names.map((name) => ({
		name,
		in: "path",
		required: true,
		schema: rules.get(name)?.schema ?? { type: "string" },
	}));
	for (const header of declared?.headers ?? [])
		parameters.push({
			name: header.name,
			in: "header",
			required: false,
			description: header.description,
			schema: { type: "string", maxLength: 128 },
		});
	const paramsRecord = isRecord(route.params) ? route.params : {};
	const bodyNames: string[] = [];
	for (const [name, rule] of rules) {
		if (names.includes(name)) continue;
		if (hasBody) bodyNames.push(name);
		else parameters.push({ name, in: "query", required: !rule.optional, schema: rule.schema });
	}

	const op: Record<string, Json> = {
		operationId: operationId(route, many),
		tags: [route.action.split(".")[0]],
		summary: `${route.action}`,
		description: [route.description, authText(req)].filter(Boolean).join("\n\n"),
		"x-moleculer-action": route.action,
		"x-auth": req.public ? "public" : { roles: req.roles, mfa: req.mfa },
	};
	if (declared?.deprecatedPaths?.includes(route.path)) op.deprecated = true;
	if (!req.public) op.security = [{ bearerAuth: [] }];
	if (parameters.length) op.parameters = parameters;

	if (route.type === "multipart")
		op.requestBody = {
			required: true,
			content: { "multipart/form-data": { schema: declared?.multipart ?? { type: "object" } } },
		};
	else if (hasBody && bodyNames.length) {
		// The validator is strict unless a schema says otherwise (lib/infra/validator.ts).
		const strict = paramsRecord.$$strict === undefined ? true : paramsRecord.$$strict;
		const { $$root: root, ...rootRule } = paramsRecord;
		const schema = root
			? convertRule(rootRule).schema
			: objectSchema(Object.fromEntries(bodyNames.map((n) => [n, paramsRecord[n]])), strict);
		op.requestBody = {
			required: Array.isArray(schema.required) && schema.required.length > 0,
			content: { "application/json": { schema } },
		};
	}

	const errors = ["401", "429", "500", "503", "504"];
	// Public routes with a body refuse too (a suspended account logging in, an invite for someone else).
	if (!req.public || hasBody) errors.push("403");
	// Not found: a resource named in the path, or an id in the params (`orderId`, `supplierId`…).
	if (names.length || [...rules.keys()].some((name) => /Id$/.test(name))) errors.push("404");
	if (hasBody) errors.push("400", "413");
	for (const status of declared?.errors ?? []) if (!errors.includes(String(status))) errors.push(String(status));
	if (route.type === "multipart") errors.push("415");
	if (method !== "GET") errors.push("409");
	if (rules.size > 0 || route.type === "multipart") errors.push("422");
	const responses = { ...errorRefs(errors.sort()), ...successResponses(declared) };
	op.responses = responses;
	return op;
}

export interface DocumentInfo {
	title?: string;
	version?: string;
	description?: string;
}

/** The whole document for these routes (sorted by path, so that it reads and diffs stably). */
export function buildOpenApi(routes: RoutedAction[], info: DocumentInfo = {}): OpenApiDocument {
	const paths: Record<string, Record<string, Json>> = {};
	const sorted = [...routes].sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
	const perAction = new Map<string, number>();
	for (const r of sorted) perAction.set(r.action, (perAction.get(r.action) ?? 0) + 1);
	for (const route of sorted) {
		const { path } = openApiPath(route.path);
		const item = (paths[path] = paths[path] ?? {});
		item[route.method.toLowerCase()] = operation(route, (perAction.get(route.action) ?? 0) > 1);
	}
	const responses = errorResponses();
	return {
		openapi: "3.1.0",
		info: {
			title: info.title ?? "GasRápido API",
			version: info.version ?? "0.0.0",
			description:
				info.description ??
				"Generated from the gateway's routes and each action's fastest-validator `params` and `auth`. " +
					"Errors are `{ type, message, code, data? }`: `type` from the error catalogue (`x-error-catalogue`), " +
					"the HTTP status in `code`, field problems in `data.fields: [{ field, type, message }]`, " +
					"`message` in pt-BR (default) or English (`Accept-Language: en`).",
		},
		jsonSchemaDialect: "https://spec.openapis.org/oas/3.1/dialect/base",
		paths,
		components: {
			securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
			schemas: { Error: ERROR_SCHEMA, ...ENTITY_SCHEMAS },
			responses,
		},
		"x-error-catalogue": ERROR_CATALOGUE as unknown as Json,
	};
}
