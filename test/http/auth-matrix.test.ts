/**
 * Issue 14, guard: an auth matrix generated from the gateway's route table. Every routed action ×
 * (no token, a forged token, alg:none, an expired token, a token of each role), the expectation
 * derived from the action's declared `auth`:
 * - a bad token (forged, alg:none, expired) is 401 everywhere;
 * - no token: 401 unless the action is public;
 * - a role the action does not admit: 403 FORBIDDEN_ROLE; a role it admits is never refused by the
 *   gateway (the service may still say 403 for someone else's record, 404, 422…);
 * - nothing answers 5xx, and no answer shows a secret.
 * Bounded: one request per route and variant, each with a time limit (streams are cut off).
 */
import jwt from "jsonwebtoken";
import { ALL_SERVICES } from "../../lib/infra/config";
import { secret } from "../../lib/infra/secrets";
import type { Role } from "../../lib/domain/access";
import { adminToken, createCourier, createCustomer, createSupplier, Market, startMarket } from "../helpers/market";

interface RouteRow {
	method: string;
	path: string;
	action: string;
	type: string;
	auth: unknown;
}

let m: Market;
const tokens: Partial<Record<Role, { id: string; token: string }>> = {};
let routes: RouteRow[] = [];

beforeAll(async () => {
	m = await startMarket({}, [...ALL_SERVICES]);
	const admin = await adminToken(m.api);
	tokens.admin = { id: "admin", token: admin };
	tokens.customer = await createCustomer(m);
	tokens.supplier = await createSupplier(m);
	tokens.courier = await createCourier(m);

	const api = m.broker.getLocalService("api") as unknown as {
		aliases: { action?: string; method: string; fullPath: string; type: string; route: { path: string } }[];
	};
	const defs = new Map<string, unknown>();
	for (const item of m.broker.registry.getActionList({ skipInternal: true }) as {
		name: string;
		action?: { auth?: unknown };
	}[])
		defs.set(item.name, item.action?.auth);
	routes = api.aliases
		.filter((a) => a.action && a.route.path === "/api" && a.method !== "*")
		.map((a) => ({ method: a.method, path: a.fullPath, action: a.action!, type: a.type, auth: defs.get(a.action!) }))
		// Logout ends the caller's sessions: it goes last.
		.sort((a, b) => Number(a.action === "users.logout") - Number(b.action === "users.logout"));
}, 90_000);
afterAll(() => m.stop());

const ROLES: Role[] = ["customer", "supplier", "courier", "admin"];
/** Secret values (field names alone may appear: the OpenAPI document says they are never shown). */
const SECRETS = [
	/"passwordHash"\s*:\s*"/,
	/"mfaSecret"\s*:\s*"/,
	/"mfaPendingSecret"\s*:\s*"/,
	/"stagedPaymentToken"\s*:\s*"/,
	/"secretHash"\s*:\s*"/,
	/scrypt\$/,
	/4242424242424242/,
];

function badTokens(): Record<string, string> {
	const claims = { role: "admin", status: "active", mfa: true, mfaEnabled: true, supplierId: null, sep: 0 };
	const header = Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url");
	const body = Buffer.from(
		JSON.stringify({ ...claims, sub: "admin", exp: Math.floor(Date.now() / 1000) + 3600 }),
	).toString("base64url");
	return {
		forged: jwt.sign(claims, "not-the-secret-at-all-0123456789", { subject: "admin", expiresIn: "1h" }),
		algNone: `${header}.${body}.`,
		expired: jwt.sign({ ...claims, exp: Math.floor(Date.now() / 1000) - 60 }, secret("JWT_SECRET"), {
			subject: "admin",
		}),
	};
}

async function send(route: RouteRow, token: string | null): Promise<{ status: number; text: string; type?: string }> {
	const url = route.path.replace(/:[A-Za-z]+/g, "no-such-id-0000");
	const headers: Record<string, string> = {};
	if (token) headers.Authorization = `Bearer ${token}`;
	let body: string | undefined;
	if (route.method === "POST" || route.method === "PUT") {
		if (route.type === "multipart") {
			headers["Content-Type"] = "multipart/form-data; boundary=x";
			body = "--x--\r\n";
		} else {
			headers["Content-Type"] = "application/json";
			body = "{}";
		}
	}
	const base = (m.broker.getLocalService("api") as unknown as { server: { address(): { port: number } } }).server;
	const controller = new AbortController();
	const timer = setTimeout(() => controller.abort(), 3000);
	try {
		const res = await fetch(`http://127.0.0.1:${base.address().port}${url}`, {
			method: route.method,
			headers,
			body,
			signal: controller.signal,
		});
		// A stream (SSE) that answered 200: its status is what counts.
		const text = res.headers.get("content-type")?.includes("event-stream") ? "" : await res.text().catch(() => "");
		if (res.headers.get("content-type")?.includes("event-stream")) await res.body?.cancel().catch(() => undefined);
		let type: string | undefined;
		try {
			type = JSON.parse(text).type;
		} catch {
			type = undefined;
		}
		return { status: res.status, text, type };
	} finally {
		clearTimeout(timer);
	}
}

function admits(auth: unknown, role: Role): boolean {
	if (auth === "public" || auth === undefined) return true;
	const roles = (auth as { roles?: Role[] }).roles;
	return !roles || roles.includes(role);
}

test("every route × every token variant answers as its declared auth says; no 5xx, no secrets", async () => {
	expect(routes.length).toBeGreaterThan(50);
	const bad = badTokens();
	const jwtSecret = secret("JWT_SECRET");
	const problems: string[] = [];
	let requests = 0;
	for (const route of routes) {
		const name = `${route.method} ${route.path}`;
		const check = (variant: string, res: { status: number; text: string; type?: string }, ok: boolean) => {
			requests++;
			if (res.status >= 500) problems.push(`${name} [${variant}]: ${res.status}`);
			else if (!ok) problems.push(`${name} [${variant}]: unexpected ${res.status} ${res.type ?? ""}`);
			const leaked = SECRETS.find((s) => s.test(res.text));
			if (leaked) problems.push(`${name} [${variant}]: shows ${leaked}`);
			if (res.text.includes(jwtSecret)) problems.push(`${name} [${variant}]: shows the JWT secret`);
		};
		const anonymous = await send(route, null);
		check(
			"no token",
			anonymous,
			route.auth === "public" ? ![401, 403].includes(anonymous.status) : anonymous.status === 401,
		);
		for (const [variant, token] of Object.entries(bad)) {
			const res = await send(route, token);
			check(variant, res, res.status === 401);
		}
		for (const role of ROLES) {
			const res = await send(route, tokens[role]!.token);
			const expected = admits(route.auth, role)
				? res.status !== 401 && res.type !== "FORBIDDEN_ROLE"
				: res.status === 403 && res.type === "FORBIDDEN_ROLE";
			check(role, res, expected);
		}
	}
	console.log(`auth matrix: ${routes.length} routes × 8 variants = ${requests} requests, ${problems.length} problems`);
	expect(problems).toEqual([]);
}, 240_000);
