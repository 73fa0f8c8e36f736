/**
 * The invitations service on a broker (with the real users service): its actions, the events it
 * records with its writes, user.created (accepting an invite, idempotently), and the sweep
 * (expiry, stale claims of crashed registrations).
 */
import { ServiceBroker } from "moleculer";
import type { AuthUser } from "../../lib/contracts";
import type { ClaimedInvite, Invite, PublicInvite } from "../../lib/contracts/invitations";
import type { User } from "../../lib/contracts/users";
import type { DbMethods } from "../../mixins/db.mixin";
import { eventRecorder, startBroker, waitFor } from "../helpers/broker";
import { eventPublisher } from "../helpers/events";

let broker: ServiceBroker;
const recorder = eventRecorder();
let admin: AuthUser;

const as = (user: AuthUser) => ({ meta: { user } });
const invite = (email: string, role = "courier", by: AuthUser = admin) =>
	broker.call<PublicInvite, object>("invitations.create", { email, role }, as(by));
const lookup = (code: string) =>
	broker.call<{ valid: boolean; reason: string | null }, object>("invitations.lookup", { code });
const records = () => (broker.getLocalService("invitations") as unknown as DbMethods<Invite>).records;
const ofInvite = (type: string, inviteId: string) => recorder.ofType(type).filter((e) => e.data.inviteId === inviteId);
const rejection = (p: Promise<unknown>) =>
	p.then(
		() => null,
		(err: { code: number; type: string }) => err,
	);

beforeAll(async () => {
	broker = await startBroker({
		services: ["users", "invitations"],
		extraServices: [recorder.schema, eventPublisher() as never],
		env: { INVITE_EXPIRY_SWEEP_MS: "0", INVITE_CLAIM_TIMEOUT_MS: "60000" },
	});
	const [adminId] = await broker.call<string[], object>("users.idsByRole", { role: "admin" });
	admin = { id: adminId, role: "admin", status: "active", mfa: false, mfaEnabled: false };
});
afterAll(() => broker.stop());

describe("create, lookup, revoke", () => {
	test("an admin's invite is recorded with invitation.created; the lookup tells valid, role and inviter", async () => {
		const created = await invite("New.Courier@Example.com");
		expect(created).toMatchObject({ email: "new.courier@example.com", role: "courier", status: "pending" });
		expect(created).not.toHaveProperty("acceptedPublished");
		const event = await waitFor(() => ofInvite("invitation.created", created.id)[0]);
		expect(event.data).toMatchObject({ code: created.code, invitedBy: admin.id, supplierId: null });
		expect(await lookup(created.code)).toEqual({
			id: created.id,
			code: created.code,
			valid: true,
			reason: null,
			role: "courier",
			invitedBy: { name: "Administrator", role: "admin" },
		});
		expect(await rejection(lookup("no-such-code-0000000000"))).toMatchObject({ code: 404 });
	});

	test("permissions: a pending supplier cannot invite, a supplier never invites suppliers, a customer never invites", async () => {
		const supplier: AuthUser = {
			id: "s1",
			role: "supplier",
			status: "pending_verification",
			mfa: false,
			mfaEnabled: false,
		};
		expect(await rejection(invite("c1@example.com", "courier", supplier))).toMatchObject({ code: 403 });
		const active = { ...supplier, status: "active" };
		expect(await rejection(invite("s2@example.com", "supplier", active))).toMatchObject({ code: 403 });
		const customer: AuthUser = { ...supplier, role: "customer", status: "active" };
		expect(await rejection(invite("c2@example.com", "courier", customer))).toMatchObject({ code: 403 });
		const own = await invite("c3@example.com", "courier", active);
		expect(own.supplierId).toBe("s1");
		const listed = await broker.call<{ rows: PublicInvite[] }, object>("invitations.list", {}, as(active));
		expect(listed.rows.map((i) => i.id)).toEqual([own.id]);
		expect(
			await rejection(broker.call("invitations.revoke", { id: own.id }, as({ ...active, id: "s9" }))),
		).toMatchObject({
			code: 403,
		});
	});

	test("revoking: once (a repeat returns it), and a revoked code is refused with 410", async () => {
		const created = await invite("revoke.me@example.com");
		const revoked = await broker.call<PublicInvite, object>("invitations.revoke", { id: created.id }, as(admin));
		expect(revoked.status).toBe("revoked");
		expect((await broker.call<PublicInvite, object>("invitations.revoke", { id: created.id }, as(admin))).status).toBe(
			"revoked",
		);
		expect(await lookup(created.code)).toMatchObject({ valid: false, reason: "revoked" });
		const refused = broker.call("invitations.claim", { code: created.code, email: "revoke.me@example.com" });
		expect(await rejection(refused)).toMatchObject({ code: 410, type: "INVITE_REVOKED" });
	});
});

describe("claims and acceptance", () => {
	test("of ten concurrent claims exactly one wins; releaseClaim makes it usable again once", async () => {
		const created = await invite("claim.race@example.com");
		const results = await Promise.allSettled(
			Array.from({ length: 10 }, () =>
				broker.call<ClaimedInvite, object>("invitations.claim", {
					code: created.code,
					email: "Claim.Race@example.com",
				}),
			),
		);
		const won = results.filter((r) => r.status === "fulfilled") as PromiseFulfilledResult<ClaimedInvite>[];
		const lost = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
		expect(won.length).toBe(1);
		expect(won[0].value).toEqual({ id: created.id, role: "courier", supplierId: null, invitedBy: admin.id });
		expect(lost.map((r) => r.reason.code)).toEqual(Array(9).fill(409));
		expect(await broker.call("invitations.releaseClaim", { id: created.id })).toEqual({ released: true });
		expect(await broker.call("invitations.releaseClaim", { id: created.id })).toEqual({ released: false });
		expect(await lookup(created.code)).toMatchObject({ valid: true });
	});

	test("a claim with another e-mail is refused and leaves the invite pending", async () => {
		const created = await invite("right@example.com");
		const wrong = broker.call("invitations.claim", { code: created.code, email: "wrong@example.com" });
		expect(await rejection(wrong)).toMatchObject({ code: 403, type: "INVITE_EMAIL_MISMATCH" });
		expect(await lookup(created.code)).toMatchObject({ valid: true });
	});

	test("registering with the code: user.created accepts the invite once, also when the event comes again", async () => {
		const created = await invite("joiner@example.com");
		const user = await broker.call<{ id: string }, object>("users.register", {
			email: "joiner@example.com",
			password: "s3cret-password",
			name: "Joiner",
			inviteCode: created.code,
		});
		const accepted = await waitFor(() => ofInvite("invitation.accepted", created.id)[0]);
		expect(accepted.data).toEqual({
			inviteId: created.id,
			userId: user.id,
			role: "courier",
			supplierId: null,
			invitedBy: admin.id,
		});
		const userCreated = recorder.ofType("user.created").find((e) => e.data.userId === user.id);
		await broker.call("probe.publish", { type: "user.created", data: userCreated.data });
		// a user.created naming the invite for someone else changes nothing
		await broker.call("probe.publish", { type: "user.created", data: { ...userCreated.data, userId: "intruder" } });
		await waitFor(() => recorder.ofType("user.created").filter((e) => e.data.inviteId === created.id).length === 3);
		await new Promise((r) => setTimeout(r, 100));
		expect(ofInvite("invitation.accepted", created.id).length).toBe(1);
		expect(await records().findById(created.id)).toMatchObject({ status: "accepted", userId: user.id });
		expect(await lookup(created.code)).toMatchObject({ valid: false, reason: "used" });
		const used = broker.call("invitations.revoke", { id: created.id }, as(admin));
		expect(await rejection(used)).toMatchObject({ code: 409, type: "INVITE_USED" });
	});
});

describe("the sweep (expireDue)", () => {
	const ageClaim = (id: string) =>
		records().updateOne({ _id: id }, { $set: { claimedAt: new Date(Date.now() - 3600_000).toISOString() } });

	test("a claim left behind by a crashed registration is released after the claim timeout", async () => {
		const created = await invite("crashed.signup@example.com");
		await broker.call("invitations.claim", { code: created.code, email: "crashed.signup@example.com" });
		expect(await lookup(created.code)).toMatchObject({ valid: false, reason: "used" });
		// Not yet stale: the sweep leaves it alone.
		expect(await broker.call("invitations.expireDue", {})).toEqual({ expired: 0 });
		expect((await lookup(created.code)).valid).toBe(false);
		// The crash happened long ago.
		await ageClaim(created.id);
		expect(await broker.call("invitations.expireDue", {})).toEqual({ expired: 0, recovered: 1 });
		expect(await lookup(created.code)).toMatchObject({ valid: true, reason: null });
		const second = await broker.call<{ status: string }, object>("users.register", {
			email: "crashed.signup@example.com",
			password: "s3cret-password",
			name: "Second Try",
			inviteCode: created.code,
		});
		expect(second.status).toBe("pending_verification");
	});

	test("a stale claim whose user exists is accepted, with invitation.accepted", async () => {
		const created = await invite("half.done@example.com");
		const claimed = await broker.call<ClaimedInvite, object>("invitations.claim", {
			code: created.code,
			email: "half.done@example.com",
		});
		// The user was stored, but its user.created never reached invitations (written straight into the users store).
		const users = (broker.getLocalService("users") as unknown as DbMethods<User>).records;
		const now = new Date().toISOString();
		await users.insert({
			_id: "half-done-user",
			email: "half.done@example.com",
			name: "Half",
			role: "courier",
			status: "pending_verification",
			locale: "pt-BR",
			passwordHash: "x",
			mfaEnabled: false,
			inviteId: claimed.id,
			createdAt: now,
			updatedAt: now,
		});
		await ageClaim(claimed.id);
		expect(await broker.call("invitations.expireDue", {})).toEqual({ expired: 0, recovered: 1 });
		const accepted = await waitFor(() => ofInvite("invitation.accepted", created.id)[0]);
		expect(accepted.data).toMatchObject({ userId: "half-done-user", role: "courier" });
		expect(await records().findById(created.id)).toMatchObject({ status: "accepted", userId: "half-done-user" });
	});

	test("overdue invites expire once, with invitation.expired; an expired invite cannot be claimed or revoked", async () => {
		const created = await invite("late@example.com");
		await records().updateOne({ _id: created.id }, { $set: { expiresAt: new Date(Date.now() - 1000).toISOString() } });
		expect(await lookup(created.code)).toMatchObject({ valid: false, reason: "expired" });
		expect(await broker.call("invitations.expireDue", {})).toEqual({ expired: 1 });
		expect(await broker.call("invitations.expireDue", {})).toEqual({ expired: 0 });
		const event = await waitFor(() => ofInvite("invitation.expired", created.id)[0]);
		expect(event.data).toMatchObject({ email: "late@example.com", role: "courier", invitedBy: admin.id });
		await new Promise((r) => setTimeout(r, 50));
		expect(ofInvite("invitation.expired", created.id).length).toBe(1);
		const claim = broker.call("invitations.claim", { code: created.code, email: "late@example.com" });
		expect(await rejection(claim)).toMatchObject({ code: 410, type: "INVITE_EXPIRED" });
		const revoke = broker.call("invitations.revoke", { id: created.id }, as(admin));
		expect(await rejection(revoke)).toMatchObject({ code: 410, type: "INVITE_EXPIRED" });
		const listed = await broker.call<{ rows: PublicInvite[] }, object>(
			"invitations.list",
			{ status: "expired" },
			as(admin),
		);
		expect(listed.rows.map((i) => i.id)).toContain(created.id);
	});
});
