/**
 * The platform foundation through the gateway: health, registration and login, the auth matrix
 * (no token, forged, expired, wrong role, right role), profile rules, MFA, rate limiting,
 * request ids and bad input on every users endpoint.
 */
import jwt from "jsonwebtoken";
import { ServiceBroker } from "moleculer";
import { ADMIN, gatewayUrl, startBroker } from "../helpers/broker";
import { client } from "../helpers/http";
import { currentTotp, nextTotp } from "../../lib/infra/totp";
import { secret } from "../../lib/infra/secrets";

let broker: ServiceBroker;
let api: ReturnType<typeof client>;
let adminToken: string;

async function registerAndLogin(email: string, password = "cylinder-pass-123") {
	const reg = await api.post("/api/users", { email, password, name: "Test User" });
	expect(reg.status).toBe(201);
	const login = await api.post("/api/auth/login", { email, password });
	expect(login.status).toBe(200);
	return { id: reg.body.id as string, token: login.body.token as string };
}

beforeAll(async () => {
	broker = await startBroker({ services: ["api", "users"], env: { RATE_LIMIT_MAX: "10000" } });
	api = client(gatewayUrl(broker));
	const login = await api.post("/api/auth/login", ADMIN);
	adminToken = login.body.token;
});
afterAll(() => broker.stop());

describe("health", () => {
	test("live and ready answer 200 with JSON", async () => {
		const live = await api.get("/api/health/live");
		expect(live.status).toBe(200);
		expect(live.body.live).toBe(true);
		const ready = await api.get("/api/health/ready");
		expect(ready.status).toBe(200);
		expect(ready.body).toMatchObject({ ready: true, checks: { "service:users": true, "service:api": true } });
	});
});

describe("registration and login", () => {
	test("a customer registers, logs in with any e-mail case, and reads their profile without secrets", async () => {
		const reg = await api.post("/api/users", {
			email: "Maria@Example.com",
			password: "cylinder-pass-123",
			name: "Maria",
			locale: "en",
		});
		expect(reg.status).toBe(201);
		expect(reg.body).toMatchObject({ email: "maria@example.com", role: "customer", status: "active", locale: "en" });
		expect(reg.body.passwordHash).toBeUndefined();

		const login = await api.post("/api/auth/login", { email: "MARIA@example.com", password: "cylinder-pass-123" });
		expect(login.status).toBe(200);
		const claims: any = jwt.decode(login.body.token);
		expect(claims).toMatchObject({ sub: reg.body.id, role: "customer" });

		const me = await api.get(`/api/users/${reg.body.id}`, { token: login.body.token });
		expect(me.status).toBe(200);
		expect(JSON.stringify(me.body)).not.toMatch(/passwordHash|scrypt/);
	});

	test("the same e-mail cannot register twice, in any case", async () => {
		await registerAndLogin("dup@example.com");
		const again = await api.post("/api/users", {
			email: "DUP@example.com",
			password: "cylinder-pass-123",
			name: "Dup",
		});
		expect(again.status).toBe(409);
		expect(again.body.type).toBe("CONFLICT");
	});

	test("a wrong password and an unknown e-mail get the same 401", async () => {
		await registerAndLogin("pw@example.com");
		const wrong = await api.post("/api/auth/login", { email: "pw@example.com", password: "nope-nope-nope" });
		const unknown = await api.post("/api/auth/login", { email: "ghost@example.com", password: "nope-nope-nope" });
		expect(wrong.status).toBe(401);
		expect(unknown.status).toBe(401);
		expect(wrong.body.type).toBe(unknown.body.type);
	});

	test("registration cannot choose a role or status", async () => {
		const res = await api.post("/api/users", {
			email: "sneaky@example.com",
			password: "cylinder-pass-123",
			name: "S",
			role: "admin",
		});
		expect(res.status).toBe(422);
		expect(res.body.data.fields.some((e: any) => e.type === "objectStrict" && /role/.test(e.message))).toBe(true);
		const login = await api.post("/api/auth/login", { email: "sneaky@example.com", password: "cylinder-pass-123" });
		expect(login.status).toBe(401);
	});
});

describe("auth matrix on GET /api/users (admin only)", () => {
	test("no token → 401", async () => {
		const res = await api.get("/api/users");
		expect(res.status).toBe(401);
		expect(res.body.type).toBe("UNAUTHORIZED");
	});
	test("forged token (wrong key) → 401", async () => {
		const forged = jwt.sign({ role: "admin" }, "not-the-secret", { subject: "x", expiresIn: "1h" });
		const res = await api.get("/api/users", { token: forged });
		expect(res.status).toBe(401);
		expect(res.body.type).toBe("INVALID_TOKEN");
	});
	test("token signed with 'none' algorithm → 401", async () => {
		const none = jwt.sign({ role: "admin", sub: "x" }, "", { algorithm: "none" as any });
		const res = await api.get("/api/users", { token: none });
		expect(res.status).toBe(401);
	});
	test("expired token → 401 TOKEN_EXPIRED", async () => {
		const expired = jwt.sign({ role: "admin", status: "active" }, secret("JWT_SECRET"), {
			subject: "x",
			expiresIn: -10,
		});
		const res = await api.get("/api/users", { token: expired });
		expect(res.status).toBe(401);
		expect(res.body.type).toBe("TOKEN_EXPIRED");
	});
	test("wrong role → 403", async () => {
		const { token } = await registerAndLogin("matrix-customer@example.com");
		const res = await api.get("/api/users", { token });
		expect(res.status).toBe(403);
		expect(res.body.type).toBe("FORBIDDEN_ROLE");
	});
	test("right role → 200 with a page", async () => {
		const res = await api.get("/api/users?page=1&pageSize=2", { token: adminToken });
		expect(res.status).toBe(200);
		expect(res.body.rows.length).toBeLessThanOrEqual(2);
		expect(res.body.total).toBeGreaterThanOrEqual(2);
	});
	test("a token claiming admin for a customer's id gets the customer's real role", async () => {
		const { id } = await registerAndLogin("claims@example.com");
		const lying = jwt.sign({ role: "admin", status: "active" }, secret("JWT_SECRET"), { subject: id, expiresIn: "1h" });
		const res = await api.get("/api/users", { token: lying });
		expect(res.status).toBe(403);
	});
});

describe("profiles", () => {
	test("a user reads and edits only their own profile; role and status are admin-only", async () => {
		const ana = await registerAndLogin("ana@example.com");
		const bia = await registerAndLogin("bia@example.com");
		expect((await api.get(`/api/users/${bia.id}`, { token: ana.token })).status).toBe(403);
		expect((await api.put(`/api/users/${bia.id}`, { name: "Hacked" }, { token: ana.token })).status).toBe(403);

		const edit = await api.put(
			`/api/users/${ana.id}`,
			{ name: "Ana Souza", phone: "+55 11 99999-0000" },
			{ token: ana.token },
		);
		expect(edit.status).toBe(200);
		expect(edit.body).toMatchObject({ name: "Ana Souza", phone: "+55 11 99999-0000" });

		const promote = await api.put(`/api/users/${ana.id}`, { role: "admin" }, { token: ana.token });
		expect(promote.status).toBe(403);
		expect((await api.get(`/api/users/${ana.id}`, { token: ana.token })).body.role).toBe("customer");
	});

	test("changing one's own password needs the current one", async () => {
		const u = await registerAndLogin("pw-change@example.com");
		const missing = await api.put(`/api/users/${u.id}`, { password: "new-password-1" }, { token: u.token });
		expect(missing.status).toBe(422);
		const wrong = await api.put(
			`/api/users/${u.id}`,
			{ password: "new-password-1", currentPassword: "nope-nope" },
			{ token: u.token },
		);
		expect(wrong.status).toBe(403);
		expect(
			(await api.post("/api/auth/login", { email: "pw-change@example.com", password: "new-password-1" })).status,
		).toBe(401);
		const ok = await api.put(
			`/api/users/${u.id}`,
			{ password: "new-password-1", currentPassword: "cylinder-pass-123" },
			{ token: u.token },
		);
		expect(ok.status).toBe(200);
		expect(
			(await api.post("/api/auth/login", { email: "pw-change@example.com", password: "new-password-1" })).status,
		).toBe(200);
	});

	test("an admin cannot make a pending supplier active by hand: activation goes through verification", async () => {
		const pending: any = await broker.call("users.create", {
			email: "pending-supplier@example.com",
			password: "cylinder-pass-123",
			name: "Pending",
			role: "supplier",
			status: "pending_verification",
		});
		const res = await api.put(`/api/users/${pending.id}`, { status: "active" }, { token: adminToken });
		expect(res.status).toBe(409);
		expect((await api.get(`/api/users/${pending.id}`, { token: adminToken })).body.status).toBe("pending_verification");
	});

	test("a suspended user's token stops working at once; login is refused", async () => {
		const u = await registerAndLogin("suspend-me@example.com");
		// Warm the gateway's cached view of this user first: the suspension must still apply at once.
		expect((await api.get(`/api/users/${u.id}`, { token: u.token })).status).toBe(200);
		const res = await api.put(`/api/users/${u.id}`, { status: "suspended" }, { token: adminToken });
		expect(res.status).toBe(200);
		const after = await api.get(`/api/users/${u.id}`, { token: u.token });
		// The suspension ended every session of the user (issue 14: session epoch).
		expect(after.status).toBe(401);
		expect(after.body.type).toBe("SESSION_REVOKED");
		expect(
			(await api.post("/api/auth/login", { email: "suspend-me@example.com", password: "cylinder-pass-123" })).status,
		).toBe(403);
	});

	test("admin soft-deletes a user: the record stays with status deleted, the user can no longer log in", async () => {
		const u = await registerAndLogin("delete-me@example.com");
		const del = await api.del(`/api/users/${u.id}`, { token: adminToken });
		expect(del.status).toBe(200);
		expect(del.body.status).toBe("deleted");
		const seen = await api.get(`/api/users/${u.id}`, { token: adminToken });
		expect(seen.body.status).toBe("deleted");
		expect(
			(await api.post("/api/auth/login", { email: "delete-me@example.com", password: "cylinder-pass-123" })).status,
		).toBe(403);
	});

	test("unknown user → 404", async () => {
		expect((await api.get("/api/users/does-not-exist", { token: adminToken })).status).toBe(404);
	});
});

describe("MFA for admins", () => {
	test("setup, enable, then login needs the code and sensitive actions need an MFA token", async () => {
		await broker.call("users.create", {
			email: "mfa-admin@example.com",
			password: "cylinder-pass-123",
			name: "MFA Admin",
			role: "admin",
		});
		const first = await api.post("/api/auth/login", { email: "mfa-admin@example.com", password: "cylinder-pass-123" });
		const plainToken = first.body.token;
		const setup = await api.post("/api/auth/mfa/setup", {}, { token: plainToken });
		expect(setup.status).toBe(200);
		expect(setup.body.otpauthUri).toMatch(/^otpauth:\/\/totp\//);
		// The QR code to scan, drawn on the server: an SVG data: URL.
		expect(setup.body.qrDataUrl).toMatch(/^data:image\/svg\+xml;base64,/);
		expect(Buffer.from(setup.body.qrDataUrl.split(",")[1], "base64").toString()).toContain("<svg");

		expect((await api.post("/api/auth/mfa/enable", { code: "000000" }, { token: plainToken })).status).toBe(401);
		const enable = await api.post(
			"/api/auth/mfa/enable",
			{ code: currentTotp(setup.body.secret) },
			{ token: plainToken },
		);
		expect(enable.status).toBe(200);

		const noCode = await api.post("/api/auth/login", { email: "mfa-admin@example.com", password: "cylinder-pass-123" });
		expect(noCode.status).toBe(401);
		expect(noCode.body.type).toBe("MFA_CODE_REQUIRED");
		const badCode = await api.post("/api/auth/login", {
			email: "mfa-admin@example.com",
			password: "cylinder-pass-123",
			code: "123456",
		});
		expect(badCode.status).toBe(401);

		const victim = await registerAndLogin("mfa-victim@example.com");
		const withoutMfa = await api.del(`/api/users/${victim.id}`, { token: plainToken });
		expect(withoutMfa.status).toBe(403);
		expect(withoutMfa.body.type).toBe("MFA_REQUIRED");

		const promoteWithoutMfa = await api.put(`/api/users/${victim.id}`, { role: "admin" }, { token: plainToken });
		expect(promoteWithoutMfa.status).toBe(403);
		expect(promoteWithoutMfa.body.type).toBe("MFA_REQUIRED");
		expect((await api.get(`/api/users/${victim.id}`, { token: adminToken })).body.role).toBe("customer");

		// The enrolling code's time step is used up (issue 14): the next step's code signs in.
		const withCode = await api.post("/api/auth/login", {
			email: "mfa-admin@example.com",
			password: "cylinder-pass-123",
			code: nextTotp(setup.body.secret),
		});
		expect(withCode.status).toBe(200);
		expect((await api.del(`/api/users/${victim.id}`, { token: withCode.body.token })).status).toBe(200);
	});
});

describe("request ids", () => {
	test("a valid X-Request-Id is returned as sent; a malformed one is replaced", async () => {
		const ok = await api.get("/api/health/live", { headers: { "X-Request-Id": "abc-123.def" } });
		expect(ok.headers.get("x-request-id")).toBe("abc-123.def");
		const bad = await api.get("/api/health/live", { headers: { "X-Request-Id": "bad id with spaces <script>" } });
		expect(bad.headers.get("x-request-id")).toMatch(/^[A-Za-z0-9_-]{10,}$/);
		const err = await api.get("/api/users", { headers: { "X-Request-Id": "err-req-1" } });
		expect(err.status).toBe(401);
		expect(err.headers.get("x-request-id")).toBe("err-req-1");
	});
});

describe("bad input gets a 4xx JSON error, never a 500", () => {
	const endpoints: Array<[string, string]> = [
		["POST", "/api/users"],
		["POST", "/api/auth/login"],
		["PUT", "/api/users/SELF"],
		["POST", "/api/auth/mfa/enable"],
	];
	const badBodies: Array<[string, unknown]> = [
		["wrong types", { email: 12, password: true, name: [], phone: {}, locale: 5, code: 123456 }],
		["missing fields", {}],
		["unknown fields", { email: "x@y.com", password: "cylinder-pass-123", name: "X", isAdmin: true, $where: "1" }],
		[
			"nested junk",
			{ email: "x@y.com", password: "cylinder-pass-123", name: "X", address: { lat: "north", lng: 999 } },
		],
		["an array body", [1, 2, 3]],
	];
	let self: { id: string; token: string };
	beforeAll(async () => {
		self = await registerAndLogin("bad-input@example.com");
	});

	for (const [method, path] of endpoints) {
		for (const [label, body] of badBodies) {
			test(`${method} ${path}: ${label}`, async () => {
				const res = await api.raw(method, path.replace("SELF", self.id), { token: self.token, body });
				expect(res.status).toBeGreaterThanOrEqual(400);
				expect(res.status).toBeLessThan(500);
				expect(res.body).toHaveProperty("type");
			});
		}
		test(`${method} ${path}: malformed JSON → 400`, async () => {
			const res = await api.raw(method, path.replace("SELF", self.id), {
				token: self.token,
				raw: '{"email": "a@b.c",',
				headers: { "Content-Type": "application/json" },
			});
			expect(res.status).toBe(400);
			expect(res.body.type).toBe("INVALID_JSON");
		});
		test(`${method} ${path}: 2 MB body → 413`, async () => {
			const huge = JSON.stringify({ name: "x".repeat(2 * 1024 * 1024) });
			const res = await api.raw(method, path.replace("SELF", self.id), {
				token: self.token,
				raw: huge,
				headers: { "Content-Type": "application/json" },
			});
			expect(res.status).toBe(413);
			expect(res.body.type).toBe("PAYLOAD_TOO_LARGE");
		});
	}

	test("a rejected update changes nothing", async () => {
		const before = (await api.get(`/api/users/${self.id}`, { token: self.token })).body;
		const res = await api.put(`/api/users/${self.id}`, { name: "New", locale: "klingon" }, { token: self.token });
		expect(res.status).toBe(422);
		expect((await api.get(`/api/users/${self.id}`, { token: self.token })).body).toEqual(before);
	});

	test("internal actions are not reachable over HTTP", async () => {
		for (const path of [
			"/api/users/create",
			"/api/users.create",
			"/api/users/authState",
			"/api/users.activate",
			"/api/$node/list",
			"/api/api/ready",
		]) {
			const res = await api.raw("POST", path, { token: adminToken, body: { id: "x" } });
			expect([401, 403, 404, 405]).toContain(res.status);
		}
	});

	test("unknown routes get a JSON 404", async () => {
		const res = await api.get("/api/nothing-here", { token: adminToken });
		expect(res.status).toBe(404);
		expect(res.body.type).toBe("NOT_FOUND");
	});
});

describe("rate limiting", () => {
	let limited: ServiceBroker;
	let limitedApi: ReturnType<typeof client>;
	beforeAll(async () => {
		limited = await startBroker({
			services: ["api", "users"],
			env: { RATE_LIMIT_MAX: "5", RATE_LIMIT_WINDOW_MS: "60000" },
		});
		limitedApi = client(gatewayUrl(limited));
	});
	afterAll(() => limited.stop());

	test("past the limit a user gets 429 with Retry-After; another user is counted apart", async () => {
		await limitedApi.post("/api/users", { email: "rl1@example.com", password: "cylinder-pass-123", name: "R" });
		await limitedApi.post("/api/users", { email: "rl2@example.com", password: "cylinder-pass-123", name: "R" });
		const t1 = (await limitedApi.post("/api/auth/login", { email: "rl1@example.com", password: "cylinder-pass-123" }))
			.body.token;
		// The anonymous calls above used this client's IP bucket (3 of 5); users have their own buckets.
		const t2 = (await limitedApi.post("/api/auth/login", { email: "rl2@example.com", password: "cylinder-pass-123" }))
			.body.token;
		const statuses: number[] = [];
		for (let i = 0; i < 6; i++) statuses.push((await limitedApi.get("/api/health/live", { token: t1 })).status);
		expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
		const blocked = await limitedApi.get("/api/health/live", { token: t1 });
		expect(blocked.status).toBe(429);
		expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
		expect(blocked.body.type).toBeDefined();
		expect((await limitedApi.get("/api/health/live", { token: t2 })).status).toBe(200);
	});
});

describe("rate limiting behind a proxy", () => {
	test("with TRUST_PROXY=true anonymous clients are counted by X-Forwarded-For; without it by the socket", async () => {
		const behindProxy = await startBroker({
			services: ["api", "users"],
			env: { RATE_LIMIT_MAX: "2", TRUST_PROXY: "true" },
		});
		const direct = await startBroker({ services: ["api", "users"], env: { RATE_LIMIT_MAX: "2" } });
		try {
			const viaProxy = client(gatewayUrl(behindProxy));
			const from = (ip: string) =>
				viaProxy.get("/api/health/live", { headers: { "X-Forwarded-For": `${ip}, 10.0.0.1` } });
			expect([
				(await from("203.0.113.1")).status,
				(await from("203.0.113.1")).status,
				(await from("203.0.113.1")).status,
			]).toEqual([200, 200, 429]);
			expect((await from("203.0.113.2")).status).toBe(200);

			const noProxy = client(gatewayUrl(direct));
			const spoof = (ip: string) => noProxy.get("/api/health/live", { headers: { "X-Forwarded-For": ip } });
			expect([
				(await spoof("198.51.100.1")).status,
				(await spoof("198.51.100.2")).status,
				(await spoof("198.51.100.3")).status,
			]).toEqual([200, 200, 429]);
		} finally {
			await behindProxy.stop();
			await direct.stop();
		}
	});
});

describe("REQUIRE_ADMIN_MFA", () => {
	test("an admin who never enrolled must enrol in MFA before sensitive operations", async () => {
		const strict = await startBroker({ services: ["api", "users"], env: { REQUIRE_ADMIN_MFA: "true" } });
		try {
			const strictApi = client(gatewayUrl(strict));
			const admin = (await strictApi.post("/api/auth/login", ADMIN)).body.token;
			const victim = await strictApi.post("/api/users", {
				email: "strict-victim@example.com",
				password: "cylinder-pass-123",
				name: "V",
			});
			const refused = await strictApi.del(`/api/users/${victim.body.id}`, { token: admin });
			expect(refused.status).toBe(403);
			expect(refused.body.type).toBe("MFA_REQUIRED");
			expect(
				(await strictApi.put(`/api/users/${victim.body.id}`, { status: "suspended" }, { token: admin })).status,
			).toBe(403);

			const setup = await strictApi.post("/api/auth/mfa/setup", {}, { token: admin });
			const enabled = await strictApi.post(
				"/api/auth/mfa/enable",
				{ code: currentTotp(setup.body.secret) },
				{ token: admin },
			);
			expect(enabled.status).toBe(200);
			expect((await strictApi.del(`/api/users/${victim.body.id}`, { token: enabled.body.token })).status).toBe(200);
		} finally {
			await strict.stop();
		}
	});
});
