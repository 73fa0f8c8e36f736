/**
 * The users service on a broker, with a fake invitations service: registration (with and without
 * an invite, the claim released when creation fails), login, profile changes, activation,
 * deletion, the internal lookups, and the events recorded with each write.
 */
import { ServiceBroker } from "moleculer";
import type { AuthUser } from "../../lib/contracts";
import type { AuthState, Contact, PublicUser, Session } from "../../lib/contracts/users";
import { ADMIN, eventRecorder, startBroker, waitFor } from "../helpers/broker";

let broker: ServiceBroker;
const recorder = eventRecorder();
const released: string[] = [];
const authChanges: string[] = [];

const fakeInvitations = {
	name: "invitations",
	actions: {
		claim(ctx: { params: { code: string } }) {
			if (ctx.params.code.startsWith("used")) {
				const { MoleculerClientError } = require("moleculer").Errors;
				throw new MoleculerClientError("This invite has already been used", 409, "INVITE_USED");
			}
			return { id: `invite-${ctx.params.code}`, role: "courier", supplierId: "supplier-9", invitedBy: "supplier-9" };
		},
		releaseClaim(ctx: { params: { id: string } }) {
			released.push(ctx.params.id);
			return { released: true };
		},
	},
};
const gatewayCache = {
	name: "gateway-cache",
	events: {
		"users.authState.changed"(ctx: { params: { id: string } }) {
			authChanges.push(ctx.params.id);
		},
	},
};

let admin: AuthUser;
const as = (user: AuthUser) => ({ meta: { user } });
const rejection = (p: Promise<unknown>) =>
	p.then(
		() => null,
		(err: { code: number; type: string }) => err,
	);
const ofUser = (type: string, userId: string) => recorder.ofType(type).filter((e) => e.data.userId === userId);
const register = (email: string, extra: Record<string, unknown> = {}) =>
	broker.call<PublicUser, object>("users.register", { email, password: "s3cret-password", name: "Someone", ...extra });
const me = (u: PublicUser): AuthUser => ({ id: u.id, role: u.role, status: u.status, mfa: false, mfaEnabled: false });

beforeAll(async () => {
	broker = await startBroker({
		services: ["users"],
		extraServices: [recorder.schema, fakeInvitations as never, gatewayCache as never],
	});
	const [adminId] = await broker.call<string[], object>("users.idsByRole", { role: "admin" });
	admin = { id: adminId, role: "admin", status: "active", mfa: false, mfaEnabled: false };
});
afterAll(() => broker.stop());

test("the first admin exists once, with user.created", async () => {
	const created = await waitFor(() => ofUser("user.created", admin.id)[0]);
	expect(created.data).toMatchObject({ email: ADMIN.email, role: "admin", status: "active", inviteId: null });
	expect(await broker.call("users.idsByRole", { role: "admin" })).toEqual([admin.id]);
});

test("a customer registers (e-mail normalized, no secrets out) with user.created; a taken e-mail is a 409 and no event", async () => {
	const user = await register(" Ana@Example.com ".trim(), { locale: "en" });
	expect(user).toMatchObject({ email: "ana@example.com", role: "customer", status: "active", locale: "en" });
	expect(user).not.toHaveProperty("passwordHash");
	expect(user).not.toHaveProperty("_id");
	const event = await waitFor(() => ofUser("user.created", user.id)[0]);
	expect(event.data).toEqual({
		userId: user.id,
		email: "ana@example.com",
		name: "Someone",
		role: "customer",
		status: "active",
		locale: "en",
		inviteId: null,
		supplierId: null,
	});
	expect(await rejection(register("ANA@example.com"))).toMatchObject({ code: 409 });
	await new Promise((r) => setTimeout(r, 50));
	expect(recorder.ofType("user.created").filter((e) => e.data.email === "ana@example.com").length).toBe(1);
});

test("with an invite code: pending, role and supplier from the invite; a failed creation releases the claim", async () => {
	const courier = await register("courier@example.com", { inviteCode: "code-0123456789abcdef" });
	expect(courier).toMatchObject({
		role: "courier",
		status: "pending_verification",
		supplierId: "supplier-9",
		inviteId: "invite-code-0123456789abcdef",
	});
	expect((await waitFor(() => ofUser("user.created", courier.id)[0])).data.inviteId).toBe(courier.inviteId);
	expect(await rejection(register("ana@example.com", { inviteCode: "code-fedcba9876543210" }))).toMatchObject({
		code: 409,
	});
	expect(released).toEqual(["invite-code-fedcba9876543210"]);
	expect(await rejection(register("x@example.com", { inviteCode: "used-0123456789abcdef" }))).toMatchObject({
		type: "INVITE_USED",
	});
	expect(await broker.call("users.idByInvite", { inviteId: courier.inviteId })).toBe(courier.id);
	expect(await broker.call("users.idByInvite", { inviteId: "nope" })).toBeNull();
});

test("login: wrong password and unknown e-mail look alike; a suspended user is refused", async () => {
	const session = await broker.call<Session, object>("users.login", {
		email: "ANA@example.com",
		password: "s3cret-password",
	});
	expect(session.token).toEqual(expect.any(String));
	const wrong = await rejection(broker.call("users.login", { email: "ana@example.com", password: "nope-nope" }));
	const unknown = await rejection(broker.call("users.login", { email: "who@example.com", password: "nope-nope" }));
	expect(wrong).toMatchObject({ code: 401, type: "INVALID_CREDENTIALS" });
	expect(unknown).toMatchObject({ code: 401, type: "INVALID_CREDENTIALS" });
	const sus = await register("sus@example.com");
	await broker.call("users.update", { id: sus.id, status: "suspended" }, as(admin));
	const refused = await rejection(
		broker.call("users.login", { email: "sus@example.com", password: "s3cret-password" }),
	);
	expect(refused).toMatchObject({ code: 403 });
});

test("updates: user.updated names the changed fields, the gateway's cache hears of it; others' profiles are forbidden", async () => {
	const bia = await register("bia@example.com");
	const other = await register("other@example.com");
	authChanges.length = 0;
	const updated = await broker.call<PublicUser, object>(
		"users.update",
		{ id: bia.id, name: "Bia", phone: "+55 11 99999-0000" },
		as(me(bia)),
	);
	expect(updated).toMatchObject({ name: "Bia", phone: "+55 11 99999-0000" });
	const event = await waitFor(() => ofUser("user.updated", bia.id)[0]);
	expect(event.data).toEqual({ userId: bia.id, role: "customer", status: "active", changed: ["name", "phone"] });
	await waitFor(() => authChanges.includes(bia.id));
	expect(await rejection(broker.call("users.update", { id: other.id, name: "Hacked" }, as(me(bia))))).toMatchObject({
		code: 403,
	});
	expect(await rejection(broker.call("users.update", { id: bia.id, role: "admin" }, as(me(bia))))).toMatchObject({
		code: 403,
	});
	expect(await rejection(broker.call("users.update", { id: bia.id }, as(me(bia))))).toMatchObject({ code: 422 });
	const noCurrent = broker.call("users.update", { id: bia.id, password: "new-password-1" }, as(me(bia)));
	expect(await rejection(noCurrent)).toMatchObject({ code: 422 });
	const wrongCurrent = broker.call(
		"users.update",
		{ id: bia.id, password: "new-password-1", currentPassword: "wrong-one" },
		as(me(bia)),
	);
	expect(await rejection(wrongCurrent)).toMatchObject({ code: 403 });
	await broker.call(
		"users.update",
		{ id: bia.id, password: "new-password-1", currentPassword: "s3cret-password" },
		as(me(bia)),
	);
	expect(
		await broker.call<Session, object>("users.login", { email: "bia@example.com", password: "new-password-1" }),
	).toHaveProperty("token");
	expect(ofUser("user.updated", bia.id).length).toBe(2);
});

test("activate: pending → active with user.updated (and supplier.created for a supplier), once; anything else is a 409", async () => {
	const supplier = await broker.call<PublicUser, object>("users.create", {
		email: "supplier@example.com",
		password: "s3cret-password",
		name: "Dono",
		role: "supplier",
		status: "pending_verification",
		supplierProfile: { businessName: "Gás Bom", location: { lat: -23.5, lng: -46.6 }, deliveryRadiusKm: 8 },
	});
	const pendingEdit = broker.call("users.update", { id: supplier.id, status: "active" }, as(admin));
	expect(await rejection(pendingEdit)).toMatchObject({ code: 409 });
	const active = await broker.call<PublicUser, object>("users.activate", {
		id: supplier.id,
		verified: { anpAuthorization: "ANP-1" },
	});
	expect(active).toMatchObject({ status: "active", verified: { anpAuthorization: "ANP-1" } });
	expect(await broker.call("users.activate", { id: supplier.id })).toMatchObject({ status: "active" });
	const catalog = await waitFor(() =>
		recorder.ofType("supplier.created").find((e) => e.data.supplierId === supplier.id),
	);
	expect(catalog.data).toEqual({
		supplierId: supplier.id,
		name: "Gás Bom",
		anpAuthorization: "ANP-1",
		location: { lat: -23.5, lng: -46.6 },
		deliveryRadiusKm: 8,
		openingHours: { open: "00:00", close: "23:59" },
		rating: 5,
	});
	await waitFor(() => ofUser("user.updated", supplier.id).length === 1);
	expect(ofUser("user.updated", supplier.id)[0].data).toMatchObject({ status: "active", changed: ["status"] });

	const suspended = await register("suspended@example.com");
	await broker.call("users.update", { id: suspended.id, status: "suspended" }, as(admin));
	await waitFor(() => ofUser("user.updated", suspended.id).length === 1);
	expect(await rejection(broker.call("users.activate", { id: suspended.id }))).toMatchObject({ code: 409 });
	await new Promise((r) => setTimeout(r, 50));
	expect(ofUser("user.updated", suspended.id).length).toBe(1);
	expect(await broker.call<AuthState, object>("users.authState", { id: suspended.id })).toEqual({
		status: "suspended",
		role: "customer",
		supplierId: null,
		mfaEnabled: false,
		sessionEpoch: 1,
		locale: "pt-BR",
	});
});

test("remove: status deleted with user.deleted once; a deleted user is gone for get and update", async () => {
	const gone = await register("gone@example.com");
	const admin2 = { ...admin, mfa: true };
	expect(await broker.call("users.remove", { id: gone.id }, as(admin2))).toMatchObject({ status: "deleted" });
	expect(await broker.call("users.remove", { id: gone.id }, as(admin2))).toMatchObject({ status: "deleted" });
	await waitFor(() => ofUser("user.deleted", gone.id).length === 1);
	await new Promise((r) => setTimeout(r, 50));
	expect(ofUser("user.deleted", gone.id).map((e) => e.data)).toEqual([{ userId: gone.id, role: "customer" }]);
	expect(await rejection(broker.call("users.update", { id: gone.id, name: "Back" }, as(admin)))).toMatchObject({
		code: 404,
	});
	expect(await rejection(broker.call("users.get", { id: "nobody" }, as(admin)))).toMatchObject({ code: 404 });
	expect(await broker.call("users.authState", { id: "nobody" })).toBeNull();
});

test("list (admin, paged, filtered) and contact", async () => {
	const page = await broker.call<{ rows: PublicUser[]; total: number }, object>(
		"users.list",
		{ role: "customer", page: 1, pageSize: 2 },
		as(admin),
	);
	expect(page.rows.length).toBe(2);
	expect(page.total).toBeGreaterThanOrEqual(5);
	expect(page.rows.every((u) => u.role === "customer" && !("passwordHash" in u))).toBe(true);
	const [first] = page.rows;
	expect(await broker.call<Contact, object>("users.contact", { id: first.id })).toEqual({
		id: first.id,
		email: first.email,
		phone: first.phone || null,
		name: first.name,
		locale: first.locale,
		role: "customer",
		status: first.status,
	});
	expect(await broker.call("users.contact", { id: "nobody" })).toBeNull();
});

describe("issue 14: sessions, sign-in throttling, password strength", () => {
	const state = (id: string) => broker.call<AuthState, object>("users.authState", { id });

	test("logout and a password change move the session epoch on; a token carries the epoch it was issued in", async () => {
		const u = await register("epoch@example.com");
		const jwt = require("jsonwebtoken");
		const first = await broker.call<Session, object>("users.login", {
			email: "epoch@example.com",
			password: "s3cret-password",
		});
		expect(jwt.decode(first.token).sep).toBe(0);
		expect((await state(u.id)).sessionEpoch).toBe(0);
		await broker.call("users.logout", {}, as(me(u)));
		expect((await state(u.id)).sessionEpoch).toBe(1);
		await broker.call(
			"users.update",
			{ id: u.id, password: "fresh-cylinder-91", currentPassword: "s3cret-password" },
			as(me(u)),
		);
		expect((await state(u.id)).sessionEpoch).toBe(2);
		const again = await broker.call<Session, object>("users.login", {
			email: "epoch@example.com",
			password: "fresh-cylinder-91",
		});
		expect(jwt.decode(again.token).sep).toBe(2);
		// A name change leaves sessions alone.
		await broker.call("users.update", { id: u.id, name: "Renamed" }, as(me(u)));
		expect((await state(u.id)).sessionEpoch).toBe(2);
	});

	test("a weak password is a 422 on the password field at registration", async () => {
		expect(
			await rejection(broker.call("users.register", { email: "weak2@example.com", password: "password1", name: "W" })),
		).toMatchObject({ code: 422, data: [expect.objectContaining({ field: "password", type: "passwordWeak" })] });
	});

	test("the fifth failed sign-in in a row locks the account and publishes user.locked_out", async () => {
		const u = await register("lockme@example.com");
		// Failures 1-3 pass through; after the third the account is blocked a moment each time.
		for (let i = 1; i <= 5; i++) {
			const err = await waitFor(async () => {
				const e = await rejection(broker.call("users.login", { email: "lockme@example.com", password: `bad-${i}-x` }));
				return e && e.type === "INVALID_CREDENTIALS" ? e : null;
			}, 10_000);
			expect(err).toMatchObject({ code: 401 });
		}
		const locked = await rejection(
			broker.call("users.login", { email: "lockme@example.com", password: "s3cret-password" }),
		);
		expect(locked).toMatchObject({ code: 429, type: "TOO_MANY_ATTEMPTS" });
		await waitFor(() => ofUser("user.locked_out", u.id).length === 1);
		expect(ofUser("user.locked_out", u.id)[0].data).toMatchObject({ userId: u.id, failures: 5 });
	}, 20_000);
});
