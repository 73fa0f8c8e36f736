/**
 * The verification service on a broker, with a fake users service (activate): requests opened by
 * invitation.accepted, uploads (content, metadata and request rules), reviews, the request's
 * progress with its events, activation (also when users fails), and the stored files.
 */
import fs from "fs";
import { ServiceBroker } from "moleculer";
import { Readable } from "stream";
import type { AuthUser } from "../../lib/contracts";
import type { PublicDocument, VerificationStatus } from "../../lib/contracts/verification";
import type { DocumentFiles } from "../../lib/infra/document-files";
import { eventRecorder, startBroker, waitFor } from "../helpers/broker";
import { eventPublisher } from "../helpers/events";

let broker: ServiceBroker;
const recorder = eventRecorder();
const activations: { id: string; verified?: Record<string, string> }[] = [];
let usersDown = false;

const fakeUsers = {
	name: "users",
	actions: {
		idsByRole: () => ["admin-1"],
		activate(ctx: { params: { id: string; verified?: Record<string, string> } }) {
			if (usersDown) throw new Error("users is unreachable");
			activations.push(ctx.params);
			return { id: ctx.params.id, status: "active" };
		},
	},
};

const admin: AuthUser = { id: "admin-1", role: "admin", status: "active", mfa: true, mfaEnabled: true };
const pending = (id: string, role: "supplier" | "courier" = "courier"): AuthUser => ({
	id,
	role,
	status: "pending_verification",
	mfa: false,
	mfaEnabled: false,
});
const pdf = (text = "doc") => Buffer.from(`%PDF-1.4\n% ${text}\n%%EOF\n`);
const COURIER_DOCS = {
	drivers_licence: { category: "AB", issueDate: "2015-06-01" },
	vehicle_document: { vehicleType: "motorcycle", plate: "ABC-1D23", hasSidecar: true },
	courier_training: { kind: "motorcycle_courier", issueDate: "2020-02-02" },
};

function upload(user: AuthUser, type: string, metadata: unknown, content = pdf(), extra: Record<string, string> = {}) {
	return broker.call<PublicDocument, Readable>("verification.upload", Readable.from([content]), {
		meta: { user, $multipart: { type, metadata: JSON.stringify(metadata), ...extra }, filename: "../x/doc.pdf" },
	});
}
const status = (user: AuthUser, params: Record<string, unknown> = {}) =>
	broker.call<VerificationStatus, object>("verification.status", params, { meta: { user } });
const review = (id: string, decision: string, reason?: string) =>
	broker.call<PublicDocument, object>("verification.review", { id, decision, reason }, { meta: { user: admin } });
const rejection = (p: Promise<unknown>) =>
	p.then(
		() => null,
		(err: { code: number; type: string; data: unknown }) => err,
	);
const ofUser = (type: string, userId: string) => recorder.ofType(type).filter((e) => e.data.userId === userId);
const accept = (userId: string, role: string) =>
	broker.call("probe.publish", {
		type: "invitation.accepted",
		data: { inviteId: `inv-${userId}`, userId, role, supplierId: null, invitedBy: "admin-1" },
	});

beforeAll(async () => {
	broker = await startBroker({
		services: ["verification"],
		extraServices: [recorder.schema, eventPublisher() as never, fakeUsers as never],
	});
});
afterAll(() => broker.stop());

test("invitation.accepted opens one request per courier or supplier (redelivery changes nothing), none for others", async () => {
	await accept("c1", "courier");
	await accept("c1", "courier");
	await accept("cust", "customer");
	const opened = await waitFor(() => status(pending("c1")));
	expect(opened).toMatchObject({ userId: "c1", role: "courier", status: "awaiting_documents", documents: [] });
	expect(opened.required.map((d) => [d.type, d.status])).toEqual([
		["drivers_licence", "missing"],
		["vehicle_document", "missing"],
		["courier_training", "missing"],
	]);
	await new Promise((r) => setTimeout(r, 100));
	expect(await rejection(status({ ...pending("cust"), role: "customer" }))).toMatchObject({ code: 404 });
	expect(await rejection(status(pending("c1"), { userId: "c2" }))).toMatchObject({ code: 403 });
	expect(await rejection(status(pending("c1"), { queue: true }))).toMatchObject({ code: 403 });
});

test("refused uploads store nothing and record no event", async () => {
	const me = pending("c1");
	const files = (broker.getLocalService("verification") as unknown as { files: DocumentFiles }).files;
	const before = fs.readdirSync(files.dir);
	const notPdf = upload(me, "courier_training", COURIER_DOCS.courier_training, Buffer.from("MZ not a pdf"));
	expect(await rejection(notPdf)).toMatchObject({ code: 415, type: "UNSUPPORTED_FILE_TYPE" });
	// PNG bytes under a .pdf name (the helper names every file doc.pdf): refused by content vs name.
	const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 1, 2, 3]);
	const pngAsPdf = upload(me, "courier_training", COURIER_DOCS.courier_training, png);
	expect(await rejection(pngAsPdf)).toMatchObject({ code: 415, type: "FILE_TYPE_MISMATCH" });
	expect(await rejection(upload(me, "courier_training", COURIER_DOCS.courier_training, Buffer.alloc(0)))).toMatchObject(
		{
			code: 422,
		},
	);
	const notMine = await rejection(upload(me, "anp_authorization", { number: "ANP-1" }));
	expect(notMine).toMatchObject({ code: 422, data: [expect.objectContaining({ field: "type" })] });
	const sidecar = await rejection(upload(me, "vehicle_document", { vehicleType: "motorcycle", plate: "ABC1D23" }));
	expect(sidecar).toMatchObject({ code: 422, data: [expect.objectContaining({ field: "metadata.hasSidecar" })] });
	const unknown = upload(me, "courier_training", COURIER_DOCS.courier_training, pdf(), { userId: "x" });
	expect(await rejection(unknown)).toMatchObject({ code: 422 });
	const noRequest = upload(
		{ ...pending("active-one"), status: "active" },
		"courier_training",
		COURIER_DOCS.courier_training,
	);
	expect(await rejection(noRequest)).toMatchObject({ code: 409 });
	expect(fs.readdirSync(files.dir)).toEqual(before);
	expect(ofUser("document.uploaded", "c1")).toEqual([]);
});

test("all documents in → in_review with verification.requested once; a licence must cover the vehicle", async () => {
	const me = pending("c1");
	const ids: Record<string, string> = {};
	for (const [type, metadata] of Object.entries(COURIER_DOCS)) ids[type] = (await upload(me, type, metadata)).id;
	const mismatch = await rejection(upload(me, "drivers_licence", { category: "B", issueDate: "2015-01-01" }));
	expect(mismatch).toMatchObject({ code: 422, data: [expect.objectContaining({ field: "metadata" })] });
	await waitFor(() => ofUser("document.uploaded", "c1").length === 3);
	expect(ofUser("document.uploaded", "c1")[1].data).toMatchObject({ type: "vehicle_document", role: "courier" });
	const requested = await waitFor(() => ofUser("verification.requested", "c1")[0]);
	expect(requested.data).toMatchObject({ role: "courier", supplierId: null });
	const mine = await status(me);
	expect(mine.status).toBe("in_review");
	const vehicle = mine.documents.find((d) => d.id === ids.vehicle_document)!;
	expect(vehicle).toMatchObject({ status: "pending_review", fileName: "doc.pdf", contentType: "application/pdf" });
	expect(vehicle.metadata.plate).toBe("ABC1D23");
	const queue = await broker.call<{ rows: PublicDocument[]; total: number }, object>(
		"verification.status",
		{ queue: true, pageSize: 2 },
		{ meta: { user: admin } },
	);
	expect(queue).toMatchObject({ total: 3, page: 1, pageSize: 2 });
	expect(queue.rows.map((d) => d.id)).toEqual([ids.drivers_licence, ids.vehicle_document]);
});

test("a rejection needs a reason, records verification.rejected, and the next upload supersedes nothing approved", async () => {
	const me = pending("c1");
	const docs = (await status(me)).documents;
	const training = docs.find((d) => d.type === "courier_training")!;
	expect(await rejection(review(training.id, "reject"))).toMatchObject({ code: 422 });
	const rejected = await review(training.id, "reject", "Illegible");
	expect(rejected).toMatchObject({ status: "rejected", reason: "Illegible", reviewedBy: "admin-1" });
	expect(await review(training.id, "reject", "Illegible")).toMatchObject({ status: "rejected" });
	expect(await rejection(review(training.id, "approve"))).toMatchObject({ code: 409 });
	const event = await waitFor(() => ofUser("verification.rejected", "c1")[0]);
	expect(event.data).toMatchObject({ documentId: training.id, documentType: "courier_training", reason: "Illegible" });
	await new Promise((r) => setTimeout(r, 50));
	expect(ofUser("verification.rejected", "c1").length).toBe(1);
	expect((await status(me)).status).toBe("awaiting_documents");

	const again = await upload(me, "courier_training", COURIER_DOCS.courier_training);
	expect((await status(me)).status).toBe("in_review");
	await waitFor(() => ofUser("verification.requested", "c1").length === 2);
	const licence = docs.find((d) => d.type === "drivers_licence")!;
	await review(licence.id, "approve");
	const approvedAgain = upload(me, "drivers_licence", COURIER_DOCS.drivers_licence);
	expect(await rejection(approvedAgain)).toMatchObject({ code: 409 });
	// a second pending upload of a type supersedes the first
	const newer = await upload(me, "courier_training", COURIER_DOCS.courier_training);
	const superseded = (await status(me)).documents.find((d) => d.id === again.id)!;
	expect(superseded).toMatchObject({ status: "superseded", supersededBy: newer.id });
	expect(await rejection(review(again.id, "approve"))).toMatchObject({ code: 409 });
});

test("when users cannot activate, the request waits; the repeated review completes it, once", async () => {
	const me = pending("c1");
	const current = (await status(me)).required;
	const vehicle = current.find((d) => d.type === "vehicle_document")!.id!;
	const training = current.find((d) => d.type === "courier_training")!.id!;
	await review(vehicle, "approve");
	usersDown = true;
	expect(await rejection(review(training, "approve"))).toBeTruthy();
	expect((await status(me)).status).toBe("in_review");
	expect(ofUser("verification.approved", "c1")).toEqual([]);
	usersDown = false;
	expect(await review(training, "approve")).toMatchObject({ status: "approved" });
	expect(activations).toEqual([{ id: "c1", verified: {} }]);
	const approved = await waitFor(() => ofUser("verification.approved", "c1")[0]);
	expect(approved.data).toMatchObject({ role: "courier" });
	expect(await status(me)).toMatchObject({ status: "approved", approvedAt: expect.any(String) });
	expect(await rejection(upload(me, "courier_training", COURIER_DOCS.courier_training))).toMatchObject({ code: 409 });
	await review(training, "approve");
	await new Promise((r) => setTimeout(r, 50));
	expect(ofUser("verification.approved", "c1").length).toBe(1);
	expect(activations.length).toBe(1);
});

test("a supplier's approval hands the ANP number and CNPJ to users.activate", async () => {
	const me = pending("s1", "supplier");
	await accept("s1", "supplier");
	await waitFor(() => status(me));
	const docs = [
		await upload(me, "anp_authorization", { number: "ANP-0012345" }),
		await upload(me, "company_registration", { cnpj: "11.222.333/0001-81" }),
		await upload(me, "fire_safety_permit", { number: "AVCB 1", validUntil: "2099-12-31" }),
	];
	for (const d of docs) await review(d.id, "approve");
	expect(activations.at(-1)).toEqual({
		id: "s1",
		verified: { anpAuthorization: "ANP-0012345", cnpj: "11222333000181" },
	});
});

test("download: the decrypted file for an admin; a file altered on disk is an error, not its content", async () => {
	const me = pending("c3");
	await accept("c3", "courier");
	await waitFor(() => status(me));
	const content = pdf("original content");
	const doc = await upload(me, "courier_training", COURIER_DOCS.courier_training, content);
	const got = await broker.call<Buffer, object>("verification.download", { id: doc.id }, { meta: { user: admin } });
	expect(Buffer.from(got).equals(content)).toBe(true);
	const files = (broker.getLocalService("verification") as unknown as { files: DocumentFiles }).files;
	const onDisk = fs.readFileSync(files.pathOf(doc.id));
	expect(onDisk.includes(Buffer.from("original content"))).toBe(false);
	fs.rmSync(files.pathOf(doc.id));
	const missing = broker.call("verification.download", { id: doc.id }, { meta: { user: admin } });
	expect(await rejection(missing)).toMatchObject({ code: 500, type: "DOCUMENT_FILE_MISSING" });
	const unknown = broker.call("verification.download", { id: "no-such-document" }, { meta: { user: admin } });
	expect(await rejection(unknown)).toMatchObject({ code: 404 });
});
