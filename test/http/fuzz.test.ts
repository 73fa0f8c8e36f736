/**
 * Issue 14, guard: a bounded fuzz test generated from the gateway's route table (like the auth
 * matrix). Every routed action, called as a user its `auth` admits, gets malformed requests built
 * from its declared params: wrong types, huge and odd unicode strings, NoSQL operators ($gt, $ne,
 * $where), prototype-pollution keys (__proto__, constructor.prototype), path traversal and odd ids
 * in the path, bad content types, truncated and non-JSON bodies, and odd query strings.
 *
 * Asserts: no answer ≥ 500; no answer shows a secret (the JWT secret, a password hash, the admin's
 * TOTP secret, a sealed value, a stack trace, the node id); no Object.prototype pollution in the
 * process; and stored data unchanged by every refused request (a snapshot of every service's
 * collections before and after it).
 */
import { ServiceBroker } from "moleculer";
import * as OTPAuth from "otpauth";
import { ALL_SERVICES } from "../../lib/infra/config";
import { secret } from "../../lib/infra/secrets";
import type { Role } from "../../lib/domain/access";
import {
	adminToken,
	createCourier,
	createCustomer,
	createProduct,
	createSupplier,
	Market,
	orderBody,
	startMarket,
} from "../helpers/market";
import { waitFor } from "../helpers/broker";

interface RouteRow {
	method: string;
	path: string;
	action: string;
	type: string;
	auth: unknown;
	params: Record<string, unknown>;
}

interface Variant {
	name: string;
	path: string;
	query?: string;
	contentType?: string;
	body?: string | Buffer;
}

let m: Market;
let port = 0;
const tokens: Partial<Record<Role, string>> = {};
let routes: RouteRow[] = [];
let adminSecret = "";
/** Real ids, so that some requests get past the lookup into the handlers. */
const realIds: Record<string, string> = {};

const QUIET = {
	RECONCILE_INTERVAL_MS: "0",
	NOTIFY_SWEEP_MS: "3600000",
	ALERT_ESCALATION_CHECK_MS: "3600000",
	INVITE_EXPIRY_SWEEP_MS: "3600000",
	DISPATCH_RETRY_MS: "3600000",
	RESERVATION_SWEEP_MS: "3600000",
	ORDER_PAYMENT_DEADLINE_MS: "3600000",
	PIX_AUTO_CONFIRM_MS: "0",
};

beforeAll(async () => {
	m = await startMarket(QUIET, [...ALL_SERVICES]);
	port = (m.broker.getLocalService("api") as unknown as { server: { address(): { port: number } } }).server.address()
		.port;
	// The admin enrols in MFA: its secret must never show up in an answer.
	const first = await adminToken(m.api);
	const setup = await m.api.post("/api/auth/mfa/setup", {}, { token: first });
	adminSecret = setup.body.secret;
	const totp = new OTPAuth.TOTP({ digits: 6, period: 30, secret: OTPAuth.Secret.fromBase32(adminSecret) });
	tokens.admin = (await m.api.post("/api/auth/mfa/enable", { code: totp.generate() }, { token: first })).body.token;
	const customer = await createCustomer(m);
	const supplier = await createSupplier(m);
	tokens.customer = customer.token;
	tokens.supplier = supplier.token;
	const courier = await createCourier(m);
	tokens.courier = courier.token;
	const product = await createProduct(m, supplier.token);
	const order = await m.api.post("/api/orders", orderBody(supplier.id, product.id), { token: customer.token });
	await waitFor(
		async () =>
			(await m.api.get(`/api/orders/${order.body.id}`, { token: customer.token })).body.status === "confirmed",
	);
	Object.assign(realIds, {
		"/api/products/:id": product.id,
		"/api/orders/:id": order.body.id,
		// Another customer: an accepted change of a profile may end its sessions.
		"/api/users/:id": (await createCustomer(m)).id,
		"/api/couriers/:id": courier.id,
	});

	const api = m.broker.getLocalService("api") as unknown as {
		aliases: { action?: string; method: string; fullPath: string; type: string; route: { path: string } }[];
	};
	const defs = new Map<string, { auth?: unknown; params?: Record<string, unknown> }>();
	for (const item of m.broker.registry.getActionList({ skipInternal: true }) as {
		name: string;
		action?: { auth?: unknown; params?: Record<string, unknown> };
	}[])
		defs.set(item.name, item.action || {});
	routes = api.aliases
		.filter((a) => a.action && a.route.path === "/api" && a.method !== "*")
		// Logout would end the fuzzing user's sessions; it is covered by the auth matrix.
		.filter((a) => a.action !== "users.logout")
		.map((a) => ({
			method: a.method,
			path: a.fullPath,
			action: a.action!,
			type: a.type,
			auth: defs.get(a.action!)?.auth,
			params: defs.get(a.action!)?.params || {},
		}));
	await settle();
}, 120_000);
afterAll(() => m.stop());

const ROLES: Role[] = ["admin", "customer", "supplier", "courier"];

function tokenFor(auth: unknown): string | null {
	if (auth === "public") return tokens.customer!;
	const roles = (auth as { roles?: Role[] } | undefined)?.roles;
	const role = ROLES.find((r) => !roles || roles.includes(r))!;
	return tokens[role]!;
}

// ── Values ───────────────────────────────────────────────────────────────────────────────────

const HUGE = "A".repeat(200_000);
const LONG = "ação-𝔊ás-".repeat(500);
const ODD_UNICODE = "\u0000\u202e\ud800\uffff😀\u200b%00' OR 1=1 --<script>";
// The same in a query string; a lone surrogate cannot be URI-encoded, so its UTF-8 bytes are written raw.
const ODD_QUERY = encodeURIComponent(ODD_UNICODE.replace("\ud800", "")) + "%ED%A0%80";
const NOSQL = [{ $gt: "" }, { $ne: null }, { $where: "sleep(1000) || true" }, { $regex: ".*" }];
const WRONG_TYPES: unknown[] = [123, true, null, [], {}, "text", -1.5, [{ $gt: "" }]];
const PATH_IDS = [
	"..%2F..%2F..%2Fetc%2Fpasswd",
	"....//....//users.sqlite",
	"%00",
	"%2e%2e",
	"__proto__",
	"constructor",
	"%24where",
	"%7B%22%24gt%22%3A%22%22%7D",
	"a".repeat(3000),
	"%F0%9F%98%80%E2%80%AE",
];

/** Top-level param names (without the `$$` options of a schema). */
function paramNames(route: RouteRow): string[] {
	return Object.keys(route.params).filter((k) => !k.startsWith("$$"));
}

function bodyWith(route: RouteRow, value: (name: string) => unknown): string {
	const names = paramNames(route).filter((n) => !route.path.includes(`:${n}`));
	return JSON.stringify(Object.fromEntries((names.length ? names : ["x"]).map((n) => [n, value(n)])));
}

function fillPath(path: string, id: string): string {
	return path.replace(/:[A-Za-z]+/g, id);
}

function variants(route: RouteRow): Variant[] {
	// A real id for reads and updates (never for deletes: the fuzzing users and their records stay).
	const real = route.method === "DELETE" ? undefined : realIds[route.path.replace(/\/:[A-Za-z]+.*$/, "/:id")];
	const path = fillPath(route.path, real || "no-such-id-0000");
	const out: Variant[] = [];
	if (route.path.includes(":"))
		for (const id of PATH_IDS) out.push({ name: `path id ${id.slice(0, 20)}`, path: fillPath(route.path, id) });
	const json = "application/json";
	const names = paramNames(route);
	const query = (pairs: string[]) => pairs.join("&");
	// Query strings: every route gets them (GET routes read them; others must ignore or refuse them).
	out.push(
		{ name: "query nosql", path, query: query(names.map((n) => `${n}[$ne]=x`).concat("q[$where]=1")) },
		{
			name: "query proto",
			path,
			query: "__proto__[polluted]=1&constructor[prototype][polluted]=1&a[__proto__][polluted]=1",
		},
		{ name: "query arrays", path, query: query(names.flatMap((n) => [`${n}=a`, `${n}=b`])) },
		{ name: "query wrong types", path, query: query(names.map((n) => `${n}=-1e999`)) },
		{ name: "query huge", path, query: query(names.map((n) => `${n}=${"x".repeat(4000)}`)) },
		{ name: "query unicode", path, query: query(names.map((n) => `${n}=${ODD_QUERY}`)) },
		{ name: "query bad escapes", path, query: "page=%E0%A4%A&pageSize=%" },
	);
	if (route.method === "GET" || route.method === "DELETE") return out;
	if (route.type === "multipart") {
		const mp = "multipart/form-data; boundary=XyZ";
		out.push(
			{ name: "multipart garbage", path, contentType: mp, body: "garbage" },
			{ name: "multipart no boundary", path, contentType: "multipart/form-data", body: "--x\r\n" },
			{
				name: "multipart truncated",
				path,
				contentType: mp,
				body: '--XyZ\r\nContent-Disposition: form-data; name="type"\r\n\r\ncompany_registration\r\n--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4 cut',
			},
			{
				name: "multipart proto fields",
				path,
				contentType: mp,
				body: '--XyZ\r\nContent-Disposition: form-data; name="__proto__"\r\n\r\n{"polluted":1}\r\n--XyZ\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n{"__proto__":{"polluted":1},"cnpj":{"$gt":""}}\r\n--XyZ--\r\n',
			},
			{ name: "multipart as json", path, contentType: json, body: "{}" },
		);
		return out;
	}
	for (const [i, value] of WRONG_TYPES.entries())
		out.push({ name: `wrong type ${i}`, path, contentType: json, body: bodyWith(route, () => value) });
	for (const [i, op] of NOSQL.entries())
		out.push({ name: `nosql ${i}`, path, contentType: json, body: bodyWith(route, () => op) });
	out.push(
		{ name: "huge strings", path, contentType: json, body: bodyWith(route, () => HUGE) },
		{ name: "long unicode", path, contentType: json, body: bodyWith(route, () => LONG) },
		{ name: "odd unicode", path, contentType: json, body: bodyWith(route, () => ODD_UNICODE) },
		{
			name: "deep nesting",
			path,
			contentType: json,
			body: bodyWith(route, () => JSON.parse("[".repeat(500) + "]".repeat(500))),
		},
		{ name: "proto key", path, contentType: json, body: `{"__proto__":{"polluted":1,"role":"admin"}}` },
		{ name: "constructor.prototype", path, contentType: json, body: `{"constructor":{"prototype":{"polluted":1}}}` },
		{
			name: "proto in every param",
			path,
			contentType: json,
			body: bodyWith(route, () =>
				JSON.parse('{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}}}'),
			),
		},
		{ name: "truncated json", path, contentType: json, body: bodyWith(route, () => "value").slice(0, -5) },
		{ name: "json scalar", path, contentType: json, body: '"just a string"' },
		{ name: "json null", path, contentType: json, body: "null" },
		{ name: "json array", path, contentType: json, body: "[1,2,3]" },
		{
			name: "invalid utf-8",
			path,
			contentType: json,
			body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
		},
		{ name: "text/plain", path, contentType: "text/plain", body: bodyWith(route, () => "x") },
		{ name: "xml", path, contentType: "application/xml", body: "<a><b>1</b></a>" },
		{
			name: "form proto",
			path,
			contentType: "application/x-www-form-urlencoded",
			body: "a[__proto__][polluted]=1&__proto__[x]=1",
		},
		{ name: "multipart on json route", path, contentType: "multipart/form-data; boundary=q", body: "--q\r\nbroken" },
		{ name: "json charset latin1", path, contentType: "application/json; charset=latin1", body: "{}" },
		{ name: "no content type", path, body: "{}" },
	);
	return out;
}

// ── Sending and checking ─────────────────────────────────────────────────────────────────────

async function send(route: RouteRow, v: Variant): Promise<{ status: number; text: string }> {
	const headers: Record<string, string> = {};
	const token = tokenFor(route.auth);
	if (token) headers.Authorization = `Bearer ${token}`;
	if (v.contentType) headers["Content-Type"] = v.contentType;
	const controller = new AbortController();
	const timer = setTimeout(() => controller.abort(), 2000);
	try {
		const res = await fetch(`http://127.0.0.1:${port}${v.path}${v.query ? `?${v.query}` : ""}`, {
			method: route.method,
			headers,
			body: v.body,
			signal: controller.signal,
		});
		const stream = res.headers.get("content-type")?.includes("event-stream");
		if (stream) await res.body?.cancel().catch(() => undefined);
		return { status: res.status, text: stream ? "" : await res.text().catch(() => "") };
	} catch (err) {
		// An aborted stream is not an answer ≥ 500; anything else (connection reset) is reported.
		if ((err as Error).name === "AbortError") return { status: 0, text: "" };
		return { status: -1, text: String(err) };
	} finally {
		clearTimeout(timer);
	}
}

/** Every document of every collection of every service, as one string. */
async function snapshot(broker: ServiceBroker): Promise<string> {
	const parts: string[] = [];
	for (const service of broker.services) {
		const s = service as unknown as {
			records?: { find(o: object): Promise<unknown[]> };
			kinds?: Map<string, { find(o: object): Promise<unknown[]> }>;
		};
		if (!s.records) continue;
		parts.push(`${service.name}:${JSON.stringify(await s.records.find({ sort: { _id: 1 } }))}`);
		for (const [kind, c] of s.kinds || [])
			parts.push(`${service.name}.${kind}:${JSON.stringify(await c.find({ sort: { _id: 1 } }))}`);
	}
	return parts.join("\n");
}

/** Waits until background work (event consumers) has stopped changing the stores. */
async function settle(): Promise<string> {
	let last = await snapshot(m.broker);
	for (let i = 0; i < 50; i++) {
		await new Promise((resolve) => setTimeout(resolve, 60));
		const now = await snapshot(m.broker);
		if (now === last) return now;
		last = now;
	}
	return last;
}

function firstDifference(a: string, b: string): string {
	const la = a.split("\n");
	const lb = b.split("\n");
	const i = la.findIndex((line, n) => line !== lb[n]);
	return `${(la[i] || "").slice(0, 200)} → ${(lb[i] || "").slice(0, 200)}`;
}

test("every route × malformed requests: no 5xx, no secret shown, no pollution, refused requests change nothing", async () => {
	expect(routes.length).toBeGreaterThan(50);
	const jwtSecret = secret("JWT_SECRET");
	const documentsKey = secret("DOCUMENTS_KEY");
	const nodeID = m.broker.nodeID;
	const leaks: [string, (text: string) => boolean][] = [
		["the JWT secret", (t) => t.includes(jwtSecret)],
		["the documents key", (t) => t.includes(documentsKey)],
		["a password hash", (t) => /scrypt\$/.test(t)],
		["the admin's TOTP secret", (t) => t.includes(adminSecret)],
		["a sealed value", (t) => t.includes("enc:v1:")],
		["a stack trace", (t) => /\n\s+at .+[(/].+:\d+:\d+/.test(t) || /"stack"\s*:/.test(t)],
		["the node id", (t) => t.includes(nodeID)],
		["a card token", (t) => t.includes("4242424242424242")],
	];
	const problems: string[] = [];
	const statuses = new Map<number, number>();
	let requests = 0;
	let pairs = 0;
	let refusedChecked = 0;
	let accepted = 0;
	// Each refused request is compared with the state before it; an accepted one (a valid-looking
	// unicode name, say) may change data and start background work, so the next baseline waits for it.
	let before = await settle();
	for (const route of routes) {
		const name = `${route.method} ${route.path}`;
		for (const v of variants(route)) {
			pairs++;
			const res = await send(route, v);
			requests++;
			statuses.set(res.status, (statuses.get(res.status) || 0) + 1);
			if (res.status >= 500 || res.status < 0)
				problems.push(`${name} [${v.name}]: ${res.status} ${res.text.slice(0, 200)}`);
			for (const [what, test] of leaks) if (test(res.text)) problems.push(`${name} [${v.name}]: shows ${what}`);
			if (({} as Record<string, unknown>).polluted !== undefined || ({} as Record<string, unknown>).role !== undefined)
				problems.push(`${name} [${v.name}]: Object.prototype was polluted`);
			if (res.status >= 200 && res.status < 400) {
				accepted++;
				before = await settle();
				continue;
			}
			const after = await snapshot(m.broker);
			refusedChecked++;
			if (after !== before) {
				problems.push(
					`${name} [${v.name}]: refused (${res.status}) but stored data changed: ${firstDifference(before, after)}`,
				);
				before = await settle();
			}
		}
	}
	const byStatus = [...statuses.entries()]
		.sort((a, b) => a[0] - b[0])
		.map(([s, n]) => `${s}×${n}`)
		.join(" ");
	console.log(
		`fuzz: ${routes.length} routes, ${pairs} route × variant pairs, ${requests} requests (${byStatus}); ` +
			`${refusedChecked} refused and checked unchanged, ${accepted} accepted; ${problems.length} problems`,
	);
	expect(problems).toEqual([]);
}, 180_000);
