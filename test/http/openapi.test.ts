/**
 * The OpenAPI document at /api/openapi.json against the gateway that serves it:
 * - every route the gateway exposes is documented, with every param of its action's schema
 *   (iterating over the gateway's aliases and the registry, not a hand list);
 * - the document is valid OpenAPI 3.1 (@seriousme/openapi-schema-validator's validate-api);
 * - contract: real calls through the gateway answer a status documented for their operation, with
 *   a body that matches the documented schema (ajv, JSON Schema 2020-12);
 * - the reference page at /api/docs and its assets are served from the package.
 */
import { execFile } from "child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import path from "path";
import { promisify } from "util";
import { ALL_SERVICES } from "../../lib/infra/config";
import { openApiPath } from "../../lib/infra/openapi";
import { DECLARED_RESPONSES } from "../../lib/infra/openapi-responses";
import { paramRules } from "../../lib/infra/fv-json-schema";
import { HttpResult } from "../helpers/http";
import { ContractChecker, Exchange } from "../helpers/openapi-contract";
import { ADMIN } from "../helpers/broker";
import { createCustomer, createProduct, createSupplier, Market, orderBody, startMarket } from "../helpers/market";

let m: Market;
let doc: any;

beforeAll(async () => {
	m = await startMarket({}, [...ALL_SERVICES]);
	const res = await m.api.get("/api/openapi.json");
	expect(res.status).toBe(200);
	doc = res.body;
}, 60_000);
afterAll(() => m.stop());

/** The gateway's routed aliases under /api (what it really answers). */
function gatewayRoutes(): { method: string; fullPath: string; action: string; type: string }[] {
	const api: any = m.broker.getLocalService("api");
	return api.aliases.filter((a: any) => a.action && a.route.path === "/api" && a.method !== "*");
}

function actionParams(name: string): unknown {
	const item: any = m.broker.registry.getActionList({}).find((i: any) => i.name === name);
	return item && item.action ? item.action.params : undefined;
}

describe("the document covers the gateway", () => {
	test("served without a token, OpenAPI 3.1, with the bearer scheme and the error schema", () => {
		expect(doc.openapi).toBe("3.1.0");
		expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
		expect(doc.components.schemas.Error.required).toEqual(["type", "message", "code"]);
		// The error catalogue: every type with its status, and the error responses list each type of their status.
		const catalogue = doc["x-error-catalogue"];
		expect(catalogue.SUPPLIER_NOT_ACTIVE).toMatchObject({
			status: 409,
			message: { "pt-BR": expect.any(String), en: expect.any(String) },
		});
		expect(doc.components.schemas.Error.properties.type.enum).toEqual(Object.keys(catalogue));
		for (const [type, entry] of Object.entries<{ status: number }>(catalogue))
			expect(
				doc.components.responses[`E${entry.status}`].content["application/json"].examples[type].value,
			).toMatchObject({
				type,
				code: entry.status,
			});
	});

	test("every route the gateway exposes is an operation, with every param of its schema", () => {
		const routes = gatewayRoutes();
		expect(routes.length).toBeGreaterThan(50);
		const undocumented: string[] = [];
		for (const route of routes) {
			const { path: p, names } = openApiPath(route.fullPath);
			const op = doc.paths[p] && doc.paths[p][route.method.toLowerCase()];
			if (!op) {
				undocumented.push(`${route.method} ${route.fullPath} (route)`);
				continue;
			}
			const documented = new Set<string>();
			for (const param of op.parameters || []) documented.add(`${param.in}:${param.name}`);
			const body = op.requestBody && op.requestBody.content;
			const bodySchema = body && (body["application/json"] || body["multipart/form-data"]).schema;
			for (const name of Object.keys((bodySchema && bodySchema.properties) || {})) documented.add(`body:${name}`);
			for (const name of names)
				if (!documented.has(`path:${name}`)) undocumented.push(`${route.method} ${p} path ${name}`);
			for (const name of paramRules(actionParams(route.action)).keys()) {
				if (names.includes(name)) continue;
				if (!documented.has(`query:${name}`) && !documented.has(`body:${name}`))
					undocumented.push(`${route.method} ${p} param ${name}`);
			}
			expect(op["x-moleculer-action"]).toBe(route.action);
		}
		expect(undocumented).toEqual([]);
		// …and nothing more than what is routed.
		const operations = Object.values(doc.paths).reduce((n: number, item: any) => n + Object.keys(item).length, 0);
		expect(operations).toBe(routes.length);
	});

	test("auth is documented: public routes have no security, others bearer with roles and MFA", () => {
		const login = doc.paths["/api/auth/login"].post;
		expect(login.security).toBeUndefined();
		expect(login["x-auth"]).toBe("public");
		const create = doc.paths["/api/orders"].post;
		expect(create.security).toEqual([{ bearerAuth: [] }]);
		expect(create["x-auth"]).toEqual({ roles: ["customer"], mfa: false });
		expect(create.responses["403"]).toBeDefined();
		const del = doc.paths["/api/users/{id}"].delete;
		expect(del["x-auth"]).toMatchObject({ roles: ["admin"], mfa: true });
		expect(del.description).toMatch(/MFA/);
	});

	test("params carry their constraints: body required fields, strictness, query types and defaults, path params", () => {
		const body = doc.paths["/api/orders"].post.requestBody.content["application/json"].schema;
		expect(body.additionalProperties).toBe(false);
		expect(body.required).toEqual(expect.arrayContaining(["supplierId", "items", "deliveryAddress", "paymentMethod"]));
		expect(body.properties.items).toMatchObject({ type: "array", minItems: 1, maxItems: 20 });
		expect(body.properties.items.items.properties.quantity).toMatchObject({ type: "integer", minimum: 1, maximum: 50 });
		const pageSize = doc.paths["/api/orders"].get.parameters.find((p: any) => p.name === "pageSize");
		expect(pageSize).toMatchObject({
			in: "query",
			required: false,
			schema: { type: "integer", default: 20, maximum: 100 },
		});
		const id = doc.paths["/api/orders/{id}"].get.parameters.find((p: any) => p.name === "id");
		expect(id).toMatchObject({ in: "path", required: true, schema: { type: "string" } });
		expect(doc.paths["/api/orders"].post.parameters).toEqual([
			expect.objectContaining({ name: "Idempotency-Key", in: "header", required: false }),
		]);
		expect(doc.components.responses.E429.headers["Retry-After"]).toBeDefined();
		const upload = doc.paths["/api/verification/documents"].post.requestBody.content["multipart/form-data"];
		expect(upload.schema.properties.file).toBeDefined();
	});

	test("every declared response belongs to a routed action", () => {
		const routed = new Set(gatewayRoutes().map((r) => r.action));
		expect(Object.keys(DECLARED_RESPONSES).filter((name) => !routed.has(name))).toEqual([]);
	});
});

describe("the document is valid OpenAPI 3.1", () => {
	test("validate-api (@seriousme/openapi-schema-validator) accepts it", async () => {
		const file = path.join(mkdtempSync(path.join(tmpdir(), "openapi-")), "openapi.json");
		writeFileSync(file, JSON.stringify(doc));
		const cli = require.resolve("@seriousme/openapi-schema-validator/bin/validate-api-cli.js");
		const { stdout } = await promisify(execFile)(process.execPath, [cli, file]).catch((err) => err);
		const result = JSON.parse(stdout);
		expect(result.errors).toBeUndefined();
		expect(result.valid).toBe(true);
	});
});

describe("the reference page", () => {
	test("GET /api/docs is Swagger UI from the installed package, with its assets", async () => {
		const page = await m.api.get("/api/docs");
		expect(page.status).toBe(200);
		expect(page.headers.get("content-type")).toMatch(/text\/html/);
		expect(page.text).toMatch(/swagger-ui-bundle\.js/);
		expect(page.text).not.toMatch(/https?:\/\//);
		const bundle = await m.api.get("/api/docs/swagger-ui-bundle.js");
		expect(bundle.status).toBe(200);
		expect(bundle.headers.get("content-type")).toMatch(/javascript/);
		expect(bundle.text.length).toBeGreaterThan(100_000);
		const init = await m.api.get("/api/docs/swagger-initializer.js");
		expect(init.text).toMatch(/\/api\/openapi\.json/);
		expect((await m.api.get("/api/docs/package.json")).status).toBe(422);
	});
});

describe("contract: real answers match the document", () => {
	const checked: string[] = [];

	function expectDocumented(method: string, template: string, res: HttpResult) {
		const checker = new ContractChecker(doc);
		const path = template.replace(/\{[^}]+\}/g, "x");
		expect(checker.template(method, path)).toBe(template);
		expect(res.headers.get("content-type")).toMatch(/application\/json/);
		const problems = checker.problems({
			method,
			path,
			status: res.status,
			contentType: res.headers.get("content-type"),
			body: res.body,
		});
		if (problems.length) throw new Error(`${problems.join("\n")}\n${res.text.slice(0, 500)}`);
		checked.push(`${method} ${template} ${res.status}`);
	}

	test("login, register, create an order, list orders, get one; validation, JSON, auth and not-found errors", async () => {
		const admin = await m.api.post("/api/auth/login", ADMIN);
		expectDocumented("POST", "/api/auth/login", admin);

		const badLogin = await m.api.post("/api/auth/login", { email: ADMIN.email, password: "wrong-password-1" });
		expectDocumented("POST", "/api/auth/login", badLogin);
		expect(badLogin.status).toBe(401);

		const register = await m.api.post("/api/users", {
			email: "contract@test.local",
			password: "cylinder-pass-123",
			name: "Ana",
		});
		expectDocumented("POST", "/api/users", register);
		expect(register.status).toBe(201);

		const supplier = await createSupplier(m);
		const product = await createProduct(m, supplier.token);
		const customer = await createCustomer(m);
		const order = await m.api.post("/api/orders", orderBody(supplier.id, product.id), { token: customer.token });
		expect(order.status).toBe(201);
		expectDocumented("POST", "/api/orders", order);

		const list = await m.api.get("/api/orders?pageSize=5&withTotal=true", { token: customer.token });
		expect(list.status).toBe(200);
		expectDocumented("GET", "/api/orders", list);

		const one = await m.api.get(`/api/orders/${order.body.id}`, { token: customer.token });
		expectDocumented("GET", "/api/orders/{id}", one);

		const invalid = await m.api.post("/api/orders", { supplierId: supplier.id, items: [] }, { token: customer.token });
		expect(invalid.status).toBe(422);
		expectDocumented("POST", "/api/orders", invalid);

		const malformed = await m.api.raw("POST", "/api/orders", {
			token: customer.token,
			raw: "{not json",
			headers: { "Content-Type": "application/json" },
		});
		expect(malformed.status).toBe(400);
		expectDocumented("POST", "/api/orders", malformed);

		const anonymous = await m.api.get("/api/orders");
		expect(anonymous.status).toBe(401);
		expectDocumented("GET", "/api/orders", anonymous);

		const wrongRole = await m.api.post("/api/orders", orderBody(supplier.id, product.id), { token: supplier.token });
		expect(wrongRole.status).toBe(403);
		expectDocumented("POST", "/api/orders", wrongRole);

		const missing = await m.api.get("/api/orders/no-such-order", { token: customer.token });
		expect(missing.status).toBe(404);
		expectDocumented("GET", "/api/orders/{id}", missing);

		const health = await m.api.get("/api/health/ready");
		expectDocumented("GET", "/api/health/ready", health);

		expect(checked.length).toBe(12);
	});
});

/**
 * The answers this run recorded: test/global-setup.ts points OPENAPI_CONTRACT_LOG at a fresh file and
 * test/sequencer.js runs this file last, so in a whole `npm test` every HTTP answer of the suite is
 * checked against the document (run alone, the answers of this file's own tests). A recorded file
 * from elsewhere can be replayed with OPENAPI_CONTRACT_REPLAY=<file>.
 */
describe("contract: the recorded run", () => {
	test("every recorded answer to a documented /api route matches the document", () => {
		const recorded = process.env.OPENAPI_CONTRACT_REPLAY || process.env.OPENAPI_CONTRACT_LOG;
		expect(recorded).toBeTruthy();
		const checker = new ContractChecker(doc);
		const lines = readFileSync(recorded as string, "utf8")
			.split("\n")
			.filter(Boolean);
		expect(lines.length).toBeGreaterThan(0);
		process.stdout.write(`[contract] ${lines.length} recorded HTTP answers checked against the OpenAPI document\n`);
		const problems = new Set<string>();
		for (const line of lines) {
			const x: Exchange = JSON.parse(line);
			// Requests to routes that do not exist (404 tests) and outside /api (web app) are not operations.
			// Test fixtures (cluster tests add /api/fixture/* routes of their own) are not the platform's.
			if (x.path.startsWith("/api/fixture/")) continue;
			if (!x.path.startsWith("/api/") || (!checker.template(x.method, x.path) && x.status === 404)) continue;
			for (const p of checker.problems(x)) problems.add(p);
		}
		expect([...problems].sort()).toEqual([]);
	});
});
