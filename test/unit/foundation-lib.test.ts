import { authorizationProblem, AuthUser, bearerToken, issueToken, verifyToken } from "../../lib/infra/auth";
import { isEnvelope, retryDelayMs, topicOf } from "../../lib/domain/events";
import { makeEnvelope } from "../../lib/infra/envelopes";
import { hashPassword, verifyPassword } from "../../lib/infra/passwords";
import { canEditUser, normalizeEmail } from "../../lib/domain/users";
import { currentTotp, newTotpSecret, verifyTotp } from "../../lib/infra/totp";

const customer: AuthUser = { id: "u1", role: "customer", status: "active", mfa: false, mfaEnabled: false };
const admin: AuthUser = { id: "a1", role: "admin", status: "active", mfa: false, mfaEnabled: true };

describe("passwords", () => {
	test("hash verifies the right password only, and is salted", async () => {
		const h1 = await hashPassword("correct horse");
		const h2 = await hashPassword("correct horse");
		expect(h1).not.toBe(h2);
		expect(await verifyPassword("correct horse", h1)).toBe(true);
		expect(await verifyPassword("correct horsE", h1)).toBe(false);
		expect(await verifyPassword("x", "garbage")).toBe(false);
	});
});

describe("auth rules", () => {
	test("public actions need nobody; others need a user, the role, MFA when enabled, and an active account", () => {
		expect(authorizationProblem("public", null)).toBeNull();
		expect(authorizationProblem(undefined, null)).toBe("unauthenticated");
		expect(authorizationProblem({ roles: ["admin"] }, customer)).toBe("role");
		expect(authorizationProblem({ roles: ["admin", "customer"] }, customer)).toBeNull();
		expect(authorizationProblem({ roles: ["admin"], mfa: true }, admin)).toBe("mfa");
		expect(authorizationProblem({ roles: ["admin"], mfa: true }, { ...admin, mfa: true })).toBeNull();
		expect(authorizationProblem({ roles: ["admin"], mfa: true }, { ...admin, mfaEnabled: false })).toBeNull();
		expect(authorizationProblem(undefined, { ...customer, status: "suspended" })).toBe("inactive");
		// REQUIRE_ADMIN_MFA: an admin who never enrolled is held to MFA too; other roles are not.
		const unenrolled = { ...admin, mfaEnabled: false };
		expect(authorizationProblem({ roles: ["admin"], mfa: true }, unenrolled, true)).toBe("mfa");
		expect(authorizationProblem({ roles: ["admin"], mfa: true }, { ...unenrolled, mfa: true }, true)).toBeNull();
		expect(authorizationProblem({ mfa: true }, customer, true)).toBeNull();
	});
	test("tokens round-trip and tampering is detected", () => {
		const token = issueToken(customer);
		expect(verifyToken(token)).toMatchObject({ id: "u1", role: "customer" });
		const [h, p, s] = token.split(".");
		const payload = JSON.parse(Buffer.from(p, "base64url").toString());
		const tampered = [h, Buffer.from(JSON.stringify({ ...payload, role: "admin" })).toString("base64url"), s].join(".");
		expect(() => verifyToken(tampered)).toThrow();
		expect(bearerToken("Bearer abc.def")).toBe("abc.def");
		expect(bearerToken("Basic xyz")).toBeNull();
	});
	test("with a key pair configured, tokens are RS256 and an HS256 token is refused", () => {
		const { generateKeyPairSync } = require("crypto");
		const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
		const hsToken = issueToken(customer);
		process.env.JWT_PRIVATE_KEY = privateKey.export({ type: "pkcs8", format: "pem" });
		process.env.JWT_PUBLIC_KEY = publicKey.export({ type: "spki", format: "pem" });
		try {
			const token = issueToken(customer);
			expect(JSON.parse(Buffer.from(token.split(".")[0], "base64url").toString()).alg).toBe("RS256");
			expect(verifyToken(token)).toMatchObject({ id: "u1" });
			expect(() => verifyToken(hsToken)).toThrow();
		} finally {
			delete process.env.JWT_PRIVATE_KEY;
			delete process.env.JWT_PUBLIC_KEY;
		}
		expect(verifyToken(hsToken)).toMatchObject({ id: "u1" });
	});
	test("users edit only themselves and only profile fields; admins anything", () => {
		expect(canEditUser(customer, "u1", ["name", "phone"])).toBe(true);
		expect(canEditUser(customer, "u1", ["role"])).toBe(false);
		expect(canEditUser(customer, "u2", ["name"])).toBe(false);
		expect(canEditUser(admin, "u2", ["status", "role"])).toBe(true);
		expect(normalizeEmail("  Ana@Example.COM ")).toBe("ana@example.com");
	});
});

describe("TOTP", () => {
	test("the current code verifies, another does not", () => {
		const secret = newTotpSecret();
		expect(verifyTotp(secret, currentTotp(secret))).toBe(true);
		const wrong = String((Number(currentTotp(secret)) + 1) % 1_000_000).padStart(6, "0");
		expect(verifyTotp(secret, wrong)).toBe(false);
	});
});

describe("events", () => {
	test("each type maps to its seed topic", () => {
		expect(topicOf("user.created")).toBe("user.events");
		expect(topicOf("supplier.created")).toBe("user.events");
		expect(topicOf("order.confirmed")).toBe("order.events");
		expect(topicOf("verification.approved")).toBe("verification.events");
		expect(topicOf("payment.failed")).toBe("payment.events");
		expect(topicOf("alert.triggered")).toBe("alert.events");
		expect(() => topicOf("mystery.thing")).toThrow();
	});
	test("envelopes carry id, type, time, actor and request id", () => {
		const e = makeEnvelope("order.created", { orderId: "o1" }, "u1", "r1");
		expect(isEnvelope(e)).toBe(true);
		expect(e).toMatchObject({ type: "order.created", actor: "u1", requestId: "r1" });
		expect(isEnvelope({ id: 1 })).toBe(false);
	});
	test("retry delays grow exponentially within jitter bounds", () => {
		for (let attempt = 1; attempt <= 5; attempt++) {
			const cap = 100 * 2 ** (attempt - 1);
			const d = retryDelayMs(attempt, 100);
			expect(d).toBeGreaterThanOrEqual(cap / 2);
			expect(d).toBeLessThanOrEqual(cap);
		}
	});
});
