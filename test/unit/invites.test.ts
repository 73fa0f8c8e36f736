import {
	effectiveStatus,
	emailMatches,
	expiresAt,
	invitePermissionProblem,
	inviteProblem,
	problemError,
	statusQuery,
} from "../../lib/domain/invites";
import { newInviteCode } from "../../lib/infra/ids";

const now = new Date("2025-03-01T12:00:00.000Z");
const future = "2025-03-08T12:00:00.000Z";
const past = "2025-03-01T11:59:59.999Z";

describe("invites", () => {
	test("codes are URL-safe with at least 128 bits and do not repeat", () => {
		const codes = new Set(Array.from({ length: 1000 }, newInviteCode));
		expect(codes.size).toBe(1000);
		for (const code of codes) {
			expect(code).toMatch(/^[A-Za-z0-9_-]+$/);
			expect(Buffer.from(code, "base64url").length * 8).toBeGreaterThanOrEqual(128);
		}
	});

	test("expiry is ttl hours after now", () => {
		expect(expiresAt(now, 24 * 7)).toBe(future);
		expect(expiresAt(now, 0)).toBe(now.toISOString());
	});

	test("admins invite suppliers and couriers; active suppliers only couriers; nobody else", () => {
		expect(invitePermissionProblem({ id: "a", role: "admin" }, "supplier")).toBeNull();
		expect(invitePermissionProblem({ id: "a", role: "admin" }, "courier")).toBeNull();
		expect(invitePermissionProblem({ id: "s", role: "supplier", status: "active" }, "courier")).toBeNull();
		expect(invitePermissionProblem({ id: "s", role: "supplier", status: "active" }, "supplier")).toMatch(
			/only invite couriers/,
		);
		expect(invitePermissionProblem({ id: "s", role: "supplier", status: "pending_verification" }, "courier")).toMatch(
			/once verified/,
		);
		expect(invitePermissionProblem({ id: "c", role: "courier", status: "active" }, "courier")).toMatch(/Only admins/);
		expect(invitePermissionProblem({ id: "u", role: "customer", status: "active" }, "courier")).toMatch(/Only admins/);
	});

	test("a pending invite past its expiry counts as expired before any sweep", () => {
		expect(effectiveStatus({ status: "pending", expiresAt: future }, now)).toBe("pending");
		expect(effectiveStatus({ status: "pending", expiresAt: past }, now)).toBe("expired");
		expect(effectiveStatus({ status: "pending", expiresAt: now.toISOString() }, now)).toBe("expired");
		expect(effectiveStatus({ status: "accepted", expiresAt: past }, now)).toBe("accepted");
	});

	test("problems: expired, revoked, used (claimed or accepted), none when pending", () => {
		expect(inviteProblem({ status: "pending", expiresAt: future }, now)).toBeNull();
		expect(inviteProblem({ status: "pending", expiresAt: past }, now)).toBe("expired");
		expect(inviteProblem({ status: "expired", expiresAt: past }, now)).toBe("expired");
		expect(inviteProblem({ status: "revoked", expiresAt: future }, now)).toBe("revoked");
		expect(inviteProblem({ status: "claimed", expiresAt: future }, now)).toBe("used");
		expect(inviteProblem({ status: "accepted", expiresAt: future }, now)).toBe("used");
		expect(problemError("expired")).toMatchObject({ type: "INVITE_EXPIRED" });
		expect(problemError("revoked")).toMatchObject({ type: "INVITE_REVOKED" });
		expect(problemError("used")).toMatchObject({ type: "INVITE_USED" });
	});

	test("e-mails match case-insensitively", () => {
		expect(emailMatches({ email: "ana@x.com" }, " Ana@X.com")).toBe(true);
		expect(emailMatches({ email: "ana@x.com" }, "bob@x.com")).toBe(false);
	});

	test("status queries treat overdue pending invites as expired", () => {
		expect(statusQuery("pending", now)).toEqual({ status: "pending", expiresAt: { $gt: now.toISOString() } });
		expect(statusQuery("expired", now)).toEqual({
			$or: [{ status: "expired" }, { status: "pending", expiresAt: { $lte: now.toISOString() } }],
		});
		expect(statusQuery("revoked", now)).toEqual({ status: "revoked" });
	});
});
