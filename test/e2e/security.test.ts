/**
 * Issue 14 through the gateway, as an attacker and as users would see it:
 * 1. sign-ins limited per client address whatever token they carry, and per target account
 *    (progressive delay, then a lockout the owner is told about), RateLimit-* headers, password
 *    strength; shared across gateways through Redis;
 * 3. sessions that end: logout, password / role / status change, deletion; a TOTP code once;
 * 4. the small ones: no /api/list-aliases, validation before the cache, error bodies without
 *    internal names.
 */
import * as OTPAuth from "otpauth";
import { ServiceBroker } from "moleculer";
import { ADMIN, gatewayUrl, startBroker, waitFor } from "../helpers/broker";
import { client } from "../helpers/http";
import { describeWithInfra, INFRA } from "../helpers/infra";

const PASSWORD = "cylinder-pass-123";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let broker: ServiceBroker;
let api: ReturnType<typeof client>;
let adminToken: string;
let seq = 0;

async function newUser(role = "customer", password = PASSWORD) {
	const email = `sec-${++seq}-${Date.now()}@example.com`;
	const user = (await broker.call("users.create", { email, password, name: `User ${seq}`, role })) as { id: string };
	const login = await api.post("/api/auth/login", { email, password });
	expect(login.status).toBe(200);
	return { id: user.id, email, token: login.body.token as string };
}

beforeAll(async () => {
	broker = await startBroker({ services: ["api", "users", "notifications", "products"] });
	api = client(gatewayUrl(broker));
	adminToken = (await waitFor(() => api.post("/api/auth/login", ADMIN).then((r) => r.body.token))) as string;
});
afterAll(() => broker.stop());

describe("finding 4: small ones", () => {
	test("GET /api/list-aliases is not routed, for anyone", async () => {
		const customer = await newUser();
		expect((await api.get("/api/list-aliases", { token: customer.token })).status).toBe(404);
		expect((await api.get("/api/list-aliases", { token: adminToken })).status).toBe(404);
	});

	test("GET /api/products?type=P2&query={} is 422 with a cold and a warm cache, without internal names", async () => {
		const cold = await api.get("/api/products?type=P2&query={}");
		expect(cold.status).toBe(422);
		expect((await api.get("/api/products?type=P2")).status).toBe(200);
		const warm = await api.get("/api/products?type=P2&query={}");
		expect(warm.status).toBe(422);
		for (const res of [cold, warm]) {
			expect(res.body.type).toBe("VALIDATION_ERROR");
			expect(res.text).not.toMatch(/nodeID|products\.list/);
			expect(res.text).not.toContain(broker.nodeID);
		}
	});
});

describe("finding 1: sign-ins limited per address and per account", () => {
	test("a weak password is refused at registration and at a change (422 on the password field)", async () => {
		const weak = await api.post("/api/users", { email: "weak@example.com", password: "password-123", name: "W" });
		expect(weak.status).toBe(422);
		expect(weak.body.data.fields).toEqual([expect.objectContaining({ field: "password", type: "passwordWeak" })]);
		const named = await api.post("/api/users", {
			email: "joaquim.silva@example.com",
			password: "joaquimsilva",
			name: "Joaquim Silva",
		});
		expect(named.status).toBe(422);
		const ok = await api.post("/api/users", { email: "strong@example.com", password: PASSWORD, name: "S" });
		expect(ok.status).toBe(201);
		const me = await newUser();
		const change = await api.put(
			`/api/users/${me.id}`,
			{ password: "12345678", currentPassword: PASSWORD },
			{ token: me.token },
		);
		expect(change.status).toBe(422);
	});

	test("wrong passwords slow the account down, then lock it (429 + Retry-After) whatever token or address; the owner is told", async () => {
		const victim = await newUser();
		const other = await newUser();
		const guess = (n: number, opts: Record<string, unknown> = {}) =>
			api.post("/api/auth/login", { email: victim.email.toUpperCase(), password: `guess-${n}-wrong` }, opts);
		// Two free failures, the third blocks for 1 s.
		expect((await guess(1)).status).toBe(401);
		expect((await guess(2, { token: other.token })).status).toBe(401);
		expect((await guess(3)).status).toBe(401);
		const delayed = await guess(4, { token: other.token });
		expect(delayed.status).toBe(429);
		expect(delayed.body.type).toBe("TOO_MANY_ATTEMPTS");
		expect(Number(delayed.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
		await sleep(1100);
		expect((await guess(5)).status).toBe(401); // 4th failure: blocked 2 s
		await sleep(2100);
		expect((await guess(6, { token: victim.token })).status).toBe(401); // 5th failure: locked 15 min
		const locked = await api.post("/api/auth/login", { email: victim.email, password: PASSWORD });
		expect(locked.status).toBe(429);
		expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(14 * 60);
		expect(locked.body.data.retryAfterSeconds).toBeGreaterThan(14 * 60);
		// The owner's session still works, and the owner is told (in-app).
		const told = await waitFor(async () => {
			const inbox = await api.get("/api/notifications", { token: victim.token });
			return inbox.body.rows.find((n: { template?: string; eventType?: string }) => n.eventType === "user.locked_out");
		}, 10_000);
		expect(told).toBeTruthy();
		// Another account is untouched.
		expect((await api.post("/api/auth/login", { email: other.email, password: PASSWORD })).status).toBe(200);
	});

	test("an unknown e-mail is throttled like a real one (no hint that it exists)", async () => {
		const ghost = `ghost-${Date.now()}@example.com`;
		const statuses: number[] = [];
		for (let i = 0; i < 4; i++)
			statuses.push((await api.post("/api/auth/login", { email: ghost, password: `nope-nope-${i}` })).status);
		expect(statuses).toEqual([401, 401, 401, 429]);
	});

	test("a wrong current password at a password change counts against the account too", async () => {
		const me = await newUser();
		const change = (n: number) =>
			api.put(
				`/api/users/${me.id}`,
				{ password: "brand-new-pass-77", currentPassword: `wrong-${n}` },
				{ token: me.token },
			);
		expect([(await change(1)).status, (await change(2)).status, (await change(3)).status]).toEqual([403, 403, 403]);
		expect((await change(4)).status).toBe(429);
	});
});

describe("finding 1: the address budget of the sign-in endpoints", () => {
	let limited: ServiceBroker;
	let limitedApi: ReturnType<typeof client>;
	beforeAll(async () => {
		limited = await startBroker({
			services: ["api", "users"],
			env: { AUTH_RATE_LIMIT_MAX: "4", RATE_LIMIT_WINDOW_MS: "3600000" },
		});
		limitedApi = client(gatewayUrl(limited));
	});
	afterAll(() => limited.stop());

	test("a valid bearer token does not move a sign-in out of the address's budget; RateLimit-* headers say where it stands", async () => {
		const email = `budget-${Date.now()}@example.com`;
		await limited.call("users.create", { email, password: PASSWORD, name: "B", role: "customer" });
		const first = await limitedApi.post("/api/auth/login", { email, password: PASSWORD });
		expect(first.status).toBe(200);
		expect(first.headers.get("ratelimit-limit")).toBe("4");
		expect(first.headers.get("ratelimit-remaining")).toBe("3");
		expect(Number(first.headers.get("ratelimit-reset"))).toBeGreaterThanOrEqual(0);
		const token = first.body.token as string;
		for (let i = 0; i < 3; i++)
			expect(
				(await limitedApi.post("/api/auth/login", { email: `x${i}@example.com`, password: "guessing-1" })).status,
			).toBe(401);
		const anonymous = await limitedApi.post("/api/auth/login", { email: "admin@test.local", password: "g" });
		expect(anonymous.status).toBe(429);
		const withToken = await limitedApi.post("/api/auth/login", { email: "admin@test.local", password: "g" }, { token });
		expect(withToken.status).toBe(429);
		expect(Number(withToken.headers.get("retry-after"))).toBeGreaterThan(0);
		expect(withToken.headers.get("ratelimit-remaining")).toBe("0");
		// Registration shares the budget; other endpoints do not.
		expect(
			(await limitedApi.post("/api/users", { email: "late@example.com", password: PASSWORD, name: "L" })).status,
		).toBe(429);
		expect((await limitedApi.get("/api/health/live", { token })).status).toBe(200);
	});
});

describeWithInfra(["redis"], "finding 1 across gateways: counters in Redis (RATE_LIMIT_REDIS)", () => {
	const namespace = `sec${Date.now().toString(36)}`;
	let a: ServiceBroker;
	let b: ServiceBroker;
	beforeAll(async () => {
		const env = { RATE_LIMIT_REDIS: INFRA.redis.url, NAMESPACE: namespace, AUTH_RATE_LIMIT_MAX: "1000" };
		a = await startBroker({ services: ["api", "users"], env });
		b = await startBroker({ services: ["api", "users"], env: { ...env, AUTH_RATE_LIMIT_MAX: "1000" } });
	});
	afterAll(async () => {
		await a?.stop();
		await b?.stop();
	});

	test("failures on one gateway count on the other: the account is blocked on both", async () => {
		const email = `shared-${Date.now()}@example.com`;
		const apiA = client(gatewayUrl(a));
		const apiB = client(gatewayUrl(b));
		const guess = (x: ReturnType<typeof client>, n: number) =>
			x.post("/api/auth/login", { email, password: `shared-guess-${n}` });
		expect((await guess(apiA, 1)).status).toBe(401);
		expect((await guess(apiB, 2)).status).toBe(401);
		expect((await guess(apiA, 3)).status).toBe(401);
		expect((await guess(apiB, 4)).status).toBe(429);
		expect((await guess(apiA, 5)).status).toBe(429);
	});
});

describeWithInfra(["redis"], "finding 1 across gateways: the address budget in Redis", () => {
	const namespace = `secb${Date.now().toString(36)}`;
	let a: ServiceBroker;
	let b: ServiceBroker;
	beforeAll(async () => {
		const env = {
			RATE_LIMIT_REDIS: INFRA.redis.url,
			NAMESPACE: namespace,
			AUTH_RATE_LIMIT_MAX: "3",
			RATE_LIMIT_WINDOW_MS: "3600000",
		};
		a = await startBroker({ services: ["api", "users"], env });
		b = await startBroker({ services: ["api", "users"], env });
	});
	afterAll(async () => {
		await a?.stop();
		await b?.stop();
	});

	test("sign-ins through either gateway spend one budget per address", async () => {
		const apiA = client(gatewayUrl(a));
		const apiB = client(gatewayUrl(b));
		const attempt = (x: ReturnType<typeof client>, n: number) =>
			x.post("/api/auth/login", { email: `budget-${n}@example.com`, password: "any-guess-1" });
		const statuses = [
			(await attempt(apiA, 1)).status,
			(await attempt(apiB, 2)).status,
			(await attempt(apiA, 3)).status,
			(await attempt(apiB, 4)).status,
		];
		expect(statuses).toEqual([401, 401, 401, 429]);
	});
});

describe("finding 3: sessions that end", () => {
	const me = (u: { id: string; token: string }) => api.get(`/api/users/${u.id}`, { token: u.token });

	test("logout ends the session: the old token is 401 SESSION_REVOKED; a new sign-in works", async () => {
		const u = await newUser();
		expect((await me(u)).status).toBe(200);
		const out = await api.post("/api/auth/logout", {}, { token: u.token });
		expect(out.status).toBe(200);
		const after = await me(u);
		expect(after.status).toBe(401);
		expect(after.body.type).toBe("SESSION_REVOKED");
		const again = await api.post("/api/auth/login", { email: u.email, password: PASSWORD });
		expect((await me({ id: u.id, token: again.body.token })).status).toBe(200);
	});

	test("a password change ends every session of the user", async () => {
		const u = await newUser();
		const second = (await api.post("/api/auth/login", { email: u.email, password: PASSWORD })).body.token as string;
		const changed = await api.put(
			`/api/users/${u.id}`,
			{ password: "another-cylinder-88", currentPassword: PASSWORD },
			{ token: u.token },
		);
		expect(changed.status).toBe(200);
		expect((await me(u)).status).toBe(401);
		expect((await me({ id: u.id, token: second })).status).toBe(401);
		const fresh = await api.post("/api/auth/login", { email: u.email, password: "another-cylinder-88" });
		expect(fresh.status).toBe(200);
		expect((await me({ id: u.id, token: fresh.body.token })).status).toBe(200);
	});

	test("a role change, a suspension and a deletion end the user's sessions", async () => {
		const roleChanged = await newUser();
		expect((await api.put(`/api/users/${roleChanged.id}`, { role: "courier" }, { token: adminToken })).status).toBe(
			200,
		);
		expect((await me(roleChanged)).status).toBe(401);

		const suspended = await newUser();
		expect((await api.put(`/api/users/${suspended.id}`, { status: "suspended" }, { token: adminToken })).status).toBe(
			200,
		);
		expect((await me(suspended)).status).toBe(401);

		const deleted = await newUser();
		expect((await api.del(`/api/users/${deleted.id}`, { token: adminToken })).status).toBe(200);
		expect((await me(deleted)).status).toBe(401);

		// A profile edit (name) does not end sessions.
		const edited = await newUser();
		expect((await api.put(`/api/users/${edited.id}`, { name: "New Name" }, { token: edited.token })).status).toBe(200);
		expect((await me(edited)).status).toBe(200);
	});

	test("a refresh token is traded once for the next pair; a reused one revokes the whole family", async () => {
		const email = `refresh-${Date.now()}@example.com`;
		await broker.call("users.create", { email, password: PASSWORD, name: "R", role: "customer" });
		const signIn = await api.post("/api/auth/login", { email, password: PASSWORD });
		const first = signIn.body.refreshToken as string;
		expect(first).toEqual(expect.any(String));
		const renewed = await api.post("/api/auth/refresh", { refreshToken: first });
		expect(renewed.status).toBe(200);
		expect(renewed.body.refreshToken).not.toBe(first);
		const id = signIn.body.user.id as string;
		expect((await me({ id, token: renewed.body.token })).status).toBe(200);
		// The first one again (stolen and replayed): refused, and the newer one of its family too.
		const replay = await api.post("/api/auth/refresh", { refreshToken: first });
		expect(replay.status).toBe(401);
		expect(replay.body.type).toBe("REFRESH_TOKEN_REUSED");
		const next = await api.post("/api/auth/refresh", { refreshToken: renewed.body.refreshToken });
		expect(next.status).toBe(401);
		// Garbage is a 401 too, never a 5xx.
		expect((await api.post("/api/auth/refresh", { refreshToken: "nope.nope" })).status).toBe(401);
		expect((await api.post("/api/auth/refresh", { refreshToken: "no-dot" })).status).toBe(401);
	});

	test("logout and a password change void refresh tokens too", async () => {
		const u = await newUser();
		const session = await api.post("/api/auth/login", { email: u.email, password: PASSWORD });
		await api.post("/api/auth/logout", {}, { token: session.body.token });
		const afterLogout = await api.post("/api/auth/refresh", { refreshToken: session.body.refreshToken });
		expect(afterLogout.status).toBe(401);
		expect(afterLogout.body.type).toBe("SESSION_REVOKED");

		const again = await api.post("/api/auth/login", { email: u.email, password: PASSWORD });
		await api.put(
			`/api/users/${u.id}`,
			{ password: "yet-another-cylinder-5", currentPassword: PASSWORD },
			{ token: again.body.token },
		);
		const afterChange = await api.post("/api/auth/refresh", { refreshToken: again.body.refreshToken });
		expect(afterChange.status).toBe(401);
		expect(afterChange.body.type).toBe("SESSION_REVOKED");
	});

	test("a TOTP code is accepted once per time step (the enrolling code too)", async () => {
		const admin = await newUser("admin");
		const setup = await api.post("/api/auth/mfa/setup", {}, { token: admin.token });
		expect(setup.status).toBe(200);
		const totp = new OTPAuth.TOTP({
			issuer: "GasRapido",
			label: "user",
			algorithm: "SHA1",
			digits: 6,
			period: 30,
			secret: OTPAuth.Secret.fromBase32(setup.body.secret),
		});
		const now = totp.generate();
		expect((await api.post("/api/auth/mfa/enable", { code: now }, { token: admin.token })).status).toBe(200);
		const login = (code: string) => api.post("/api/auth/login", { email: admin.email, password: PASSWORD, code });
		const reuseEnrolling = await login(now);
		expect(reuseEnrolling.status).toBe(401);
		expect(reuseEnrolling.body.type).toBe("INVALID_MFA_CODE");
		// The next step's code (within the allowed drift) signs in once; a second time it is refused.
		const next = totp.generate({ timestamp: Date.now() + 30_000 });
		const first = await login(next);
		expect(first.status).toBe(200);
		const replay = await login(next);
		expect(replay.status).toBe(401);
		expect(replay.body.type).toBe("INVALID_MFA_CODE");
	});
});
