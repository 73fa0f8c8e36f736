/** Issue 14, finding 1: the per-account sign-in rules, the in-memory store, TOTP steps, password strength. */
import * as OTPAuth from "otpauth";
import { blockAfterFailure, isLockout, retryAfterSeconds } from "../../lib/domain/login-throttle";
import { accountKey, MemoryAttemptStore } from "../../lib/infra/login-throttle";
import { newTotpSecret, totpStep } from "../../lib/infra/totp";
import { weakPasswordProblem } from "../../lib/infra/passwords";
import { endsSessions } from "../../lib/domain/users";

describe("blockAfterFailure", () => {
	it("two free failures, then 1 s, 2 s, a 15 min lockout at the fifth, growing delays, 30 min at the tenth", () => {
		const seconds = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 50].map((n) => blockAfterFailure(n) / 1000);
		expect(seconds).toEqual([0, 0, 1, 2, 900, 8, 16, 32, 60, 1800, 3600, 7200, 86400]);
		expect([4, 5, 6, 10].map((n) => isLockout(n))).toEqual([false, true, false, true]);
	});

	it("retry-after rounds up to whole seconds, 0 when not blocked", () => {
		expect(retryAfterSeconds({ failures: 3, blockedUntil: 10_001 }, 9_000)).toBe(2);
		expect(retryAfterSeconds({ failures: 3, blockedUntil: 9_000 }, 9_000)).toBe(0);
	});
});

describe("MemoryAttemptStore", () => {
	it("counts failures per key, blocks as the policy says, and forgets on reset", async () => {
		const store = new MemoryAttemptStore();
		const key = accountKey("ana@example.com");
		expect(key).not.toContain("ana");
		for (let i = 0; i < 4; i++) await store.fail(key);
		const state = await store.state(key);
		expect(state.failures).toBe(4);
		expect(state.blockedUntil).toBeGreaterThan(Date.now());
		const locked = await store.fail(key);
		expect(locked.blockedUntil - Date.now()).toBeGreaterThan(14 * 60_000);
		// A shorter block after it never shortens the lockout.
		const after = await store.fail(key);
		expect(after.blockedUntil).toBe(locked.blockedUntil);
		expect((await store.state(accountKey("bia@example.com"))).failures).toBe(0);
		await store.reset(key);
		expect(await store.state(key)).toEqual({ failures: 0, blockedUntil: 0 });
	});
});

describe("totpStep", () => {
	it("the step a code belongs to, within one step of drift; null for a wrong code", () => {
		const secret = newTotpSecret();
		const totp = new OTPAuth.TOTP({
			algorithm: "SHA1",
			digits: 6,
			period: 30,
			secret: OTPAuth.Secret.fromBase32(secret),
		});
		const now = 1_700_000_000_000;
		const step = Math.floor(now / 30_000);
		expect(totpStep(secret, totp.generate({ timestamp: now }), now)).toBe(step);
		expect(totpStep(secret, totp.generate({ timestamp: now + 30_000 }), now)).toBe(step + 1);
		expect(totpStep(secret, totp.generate({ timestamp: now - 30_000 }), now)).toBe(step - 1);
		expect(totpStep(secret, totp.generate({ timestamp: now + 90_000 }), now)).toBeNull();
	});
});

describe("password strength and session-ending changes", () => {
	it("refuses common and personal passwords, accepts the fixtures'", () => {
		expect(weakPasswordProblem("password-123")).not.toBeNull();
		expect(weakPasswordProblem("12345678")).not.toBeNull();
		// Strong on its own, weak for the user it names.
		expect(weakPasswordProblem("joaquimsilva")).toBeNull();
		expect(weakPasswordProblem("joaquimsilva", ["joaquim.silva@example.com", "Joaquim Silva"])).not.toBeNull();
		for (const ok of ["cylinder-pass-123", "s3cret-password", "secret-pass-1", "admin-password-1"])
			expect(weakPasswordProblem(ok)).toBeNull();
	});

	it("a new password, role or status ends sessions; a profile edit or the same value does not", () => {
		const user = { role: "customer", status: "active" };
		expect(endsSessions(user, { password: "x" })).toBe(true);
		expect(endsSessions(user, { role: "courier" })).toBe(true);
		expect(endsSessions(user, { status: "suspended" })).toBe(true);
		expect(endsSessions(user, { role: "customer", status: "active" })).toBe(false);
		expect(endsSessions(user, {})).toBe(false);
	});
});

describe("refresh tokens", () => {
	const { newRefreshToken, parseRefreshToken, durationMs } = require("../../lib/infra/refresh-tokens");

	it("only a hash is stored; the token matches it and nothing else", () => {
		const t = newRefreshToken();
		expect(t.token.startsWith(`${t.id}.`)).toBe(true);
		expect(t.secretHash).not.toContain(t.token.split(".")[1]);
		expect(parseRefreshToken(t.token).matches(t.secretHash)).toBe(true);
		expect(parseRefreshToken(`${t.id}.x${t.token.split(".")[1]}`).matches(t.secretHash)).toBe(false);
		expect(parseRefreshToken("no-dot")).toBeNull();
		expect(parseRefreshToken(".x")).toBeNull();
	});

	it("durations", () => {
		expect(durationMs("30d")).toBe(30 * 86400_000);
		expect(durationMs("15m")).toBe(900_000);
		expect(durationMs("90")).toBe(90_000);
		expect(() => durationMs("forever")).toThrow();
	});
});
