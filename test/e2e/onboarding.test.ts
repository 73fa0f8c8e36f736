/**
 * Invitation-only onboarding through the gateway: invite → lookup → register with the code →
 * upload documents → admin review → active user, for a supplier and for a courier invited by
 * that supplier, plus the failure paths. All brokers of this file share one temporary DATA_DIR
 * (NeDB files and encrypted documents on disk), so the last tests can restart on the same data.
 */
import crypto from "crypto";
import fs from "fs";
import os from "os";
import path from "path";
import { ServiceBroker } from "moleculer";
import { ADMIN, eventRecorder, gatewayUrl, startBroker, waitFor } from "../helpers/broker";
import { client } from "../helpers/http";
import { currentTotp } from "../../lib/infra/totp";

jest.setTimeout(60_000);

const SERVICES = ["api", "users", "invitations", "verification"];
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gasrapido-onboarding-"));
const documentsDir = path.join(dataDir, "documents");
const marker = () => `PLAINTEXT-MARKER-${crypto.randomBytes(8).toString("hex")}`;

const files = {
	pdf: (text = marker()) => Buffer.from(`%PDF-1.4\n% ${text}\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n`),
	png: () => Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), crypto.randomBytes(64)]),
	jpeg: () => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), crypto.randomBytes(64)]),
};

const SUPPLIER_DOCS = {
	anp_authorization: { metadata: { number: "ANP-0012345" }, file: files.pdf, name: "anp.pdf" },
	company_registration: {
		metadata: { cnpj: "11.222.333/0001-81", legalName: "Gás Bom Ltda" },
		file: files.png,
		name: "cnpj.png",
	},
	fire_safety_permit: {
		metadata: { number: "AVCB 2024/991", validUntil: "2099-12-31" },
		file: files.jpeg,
		name: "avcb.jpg",
	},
};
const COURIER_DOCS = {
	drivers_licence: {
		metadata: { category: "AB", issueDate: "2015-06-01", number: "01234567890" },
		file: files.pdf,
		name: "cnh.pdf",
	},
	vehicle_document: {
		metadata: { vehicleType: "motorcycle", plate: "ABC1D23", hasSidecar: true },
		file: files.pdf,
		name: "crlv.pdf",
	},
	courier_training: {
		metadata: { kind: "motorcycle_courier", issueDate: "2020-02-02" },
		file: files.pdf,
		name: "curso.pdf",
	},
};
const supplierProfile = {
	businessName: "Gás Bom Distribuidora",
	location: { lat: -23.55, lng: -46.63 },
	deliveryRadiusKm: 8,
	openingHours: { open: "07:00", close: "20:00" },
};

let broker: ServiceBroker;
let base: string;
let api: ReturnType<typeof client>;
let recorder: ReturnType<typeof eventRecorder>;
let adminToken: string;

async function start(env: Record<string, string> = {}) {
	recorder = eventRecorder();
	broker = await startBroker({
		services: SERVICES,
		extraServices: [recorder.schema],
		env: { DATA_DIR: dataDir, ...env },
	});
	base = gatewayUrl(broker);
	api = client(base);
	adminToken = await waitFor(async () => login(ADMIN.email, ADMIN.password));
}

async function login(email: string, password: string): Promise<string> {
	const res = await api.post("/api/auth/login", { email, password });
	return res.status === 200 ? res.body.token : "";
}

async function invite(token: string, email: string, role: string, extra: Record<string, unknown> = {}) {
	return api.post("/api/invites", { email, role, ...extra }, { token });
}

async function register(email: string, inviteCode: string, extra: Record<string, unknown> = {}) {
	return api.post("/api/users", { email, password: "s3cret-password", name: `User ${email}`, inviteCode, ...extra });
}

/** Invite, register with the code, wait until the verification request is open; returns the user's token and id. */
async function onboard(inviterToken: string, email: string, role: string, extra: Record<string, unknown> = {}) {
	const created = await invite(inviterToken, email, role);
	expect(created.status).toBe(201);
	const registered = await register(email, created.body.code, extra);
	expect(registered.status).toBeLessThan(300);
	const token = await login(email, "s3cret-password");
	await waitFor(async () => (await api.get("/api/verification/status", { token })).status === 200);
	return {
		token,
		userId: registered.body.id as string,
		inviteId: created.body.id as string,
		code: created.body.code as string,
	};
}

/** The part's Content-Type a browser would send for this file name. */
function typeByName(name: string): string {
	const ext = path.extname(name).toLowerCase();
	return ext === ".png" ? "image/png" : ext === ".jpg" || ext === ".jpeg" ? "image/jpeg" : "application/pdf";
}

/** A raw multipart request (a client that sends a malformed or truncated body). */
function rawUpload(token: string, contentType: string, body: string) {
	return api.raw("POST", "/api/verification/documents", {
		token,
		raw: body,
		headers: { "Content-Type": contentType },
	});
}

async function upload(
	token: string,
	type: string,
	metadata: unknown,
	file: { content: Buffer; name: string; contentType?: string },
	extraFields: Record<string, string> = {},
) {
	const form = new FormData();
	form.append("type", type);
	form.append("metadata", typeof metadata === "string" ? metadata : JSON.stringify(metadata));
	for (const [k, v] of Object.entries(extraFields)) form.append(k, v);
	form.append("file", new Blob([file.content], { type: file.contentType || typeByName(file.name) }), file.name);
	const res = await fetch(`${base}/api/verification/documents`, {
		method: "POST",
		headers: { Authorization: `Bearer ${token}` },
		body: form,
	});
	const text = await res.text();
	let body: any = null;
	try {
		body = JSON.parse(text);
	} catch {
		body = null;
	}
	return { status: res.status, body, headers: res.headers };
}

async function uploadAll(token: string, docs: Record<string, { metadata: unknown; file: () => Buffer; name: string }>) {
	const ids: Record<string, string> = {};
	const plain: Record<string, Buffer> = {};
	for (const [type, d] of Object.entries(docs)) {
		plain[type] = d.file();
		const res = await upload(token, type, d.metadata, { content: plain[type], name: d.name });
		expect(res.status).toBe(201);
		ids[type] = res.body.id;
	}
	return { ids, plain };
}

const review = (id: string, body: Record<string, unknown>, token = adminToken) =>
	api.put(`/api/verification/documents/${id}/review`, body, { token });
const status = (token: string, query = "") => api.get(`/api/verification/status${query}`, { token });
const storedFiles = () => (fs.existsSync(documentsDir) ? fs.readdirSync(documentsDir).sort() : []);

const state: Record<string, any> = {};

afterAll(async () => {
	if (broker) await broker.stop();
	fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("onboarding", () => {
	beforeAll(() => start());

	test("an admin invites a supplier; the public lookup tells valid, role and inviter only", async () => {
		const created = await invite(adminToken, "Supplier.One@Example.com", "supplier", { message: "Bem-vindo!" });
		expect(created.status).toBe(201);
		expect(created.body).toMatchObject({
			email: "supplier.one@example.com",
			role: "supplier",
			status: "pending",
			supplierId: null,
		});
		expect(Buffer.from(created.body.code, "base64url").length * 8).toBeGreaterThanOrEqual(128);
		const days = (Date.parse(created.body.expiresAt) - Date.now()) / 86_400_000;
		expect(days).toBeGreaterThan(6.99);
		expect(days).toBeLessThanOrEqual(7);
		const event = await waitFor(() =>
			recorder.ofType("invitation.created").find((e) => e.data.inviteId === created.body.id),
		);
		expect(event.data).toMatchObject({
			email: "supplier.one@example.com",
			role: "supplier",
			code: created.body.code,
			message: "Bem-vindo!",
		});

		const lookup = await api.get(`/api/invites/by-code/${created.body.code}`);
		expect(lookup.status).toBe(200);
		expect(lookup.body).toEqual({
			id: created.body.id,
			code: created.body.code,
			valid: true,
			reason: null,
			role: "supplier",
			invitedBy: { name: "Administrator", role: "admin" },
		});
		// The older path answers the same (the web app's sign-up link uses it).
		expect((await api.get(`/api/invites/${created.body.code}`)).body).toEqual(lookup.body);
		expect((await api.get("/api/invites/by-code/not-a-real-code-at-all-000000")).status).toBe(404);
		expect((await api.get("/api/invites/not-a-real-code-at-all-000000")).status).toBe(404);
		state.pendingCode = created.body.code;
	});

	test("the supplier registers with the code (wrong e-mail refused), is pending, and the invite is accepted once", async () => {
		const wrongEmail = await register("someone.else@example.com", state.pendingCode!);
		expect(wrongEmail.status).toBe(403);
		expect(wrongEmail.body.type).toBe("INVITE_EMAIL_MISMATCH");

		const registered = await register("supplier.one@example.com", state.pendingCode!, { supplierProfile });
		expect(registered.status).toBeLessThan(300);
		expect(registered.body).toMatchObject({ role: "supplier", status: "pending_verification" });
		const accepted = await waitFor(() =>
			recorder.ofType("invitation.accepted").find((e) => e.data.userId === registered.body.id),
		);
		expect(accepted.data).toMatchObject({ role: "supplier", supplierId: null });

		const reused = await register("supplier.one@example.com", state.pendingCode!);
		expect(reused.status).toBe(409);
		expect(reused.body.type).toBe("INVITE_USED");
		expect((await api.get(`/api/invites/${state.pendingCode}`)).body).toMatchObject({ valid: false, reason: "used" });
		const list = await api.get("/api/invites?status=accepted", { token: adminToken });
		expect(list.body.rows.map((i: any) => i.id)).toContain(accepted.data.inviteId);

		const token = await login("supplier.one@example.com", "s3cret-password");
		const opened = await waitFor(async () => {
			const res = await status(token);
			return res.status === 200 ? res.body : null;
		});
		expect(opened.status).toBe("awaiting_documents");
		expect(opened.required.map((d: any) => [d.type, d.status])).toEqual([
			["anp_authorization", "missing"],
			["company_registration", "missing"],
			["fire_safety_permit", "missing"],
		]);
		state.supplier = { token, userId: registered.body.id };
	});

	test("uploads are checked by content, size, fields and metadata, and a refused upload stores nothing", async () => {
		const { token } = state.supplier;
		const before = storedFiles();
		const fakePdf = await upload(
			token,
			"anp_authorization",
			{ number: "ANP-1" },
			{ content: Buffer.from("MZ\x90\x00 not a pdf at all"), name: "anp.pdf" },
		);
		expect(fakePdf.status).toBe(415);
		expect(fakePdf.body.type).toBe("UNSUPPORTED_FILE_TYPE");

		const oversized = Buffer.alloc(10 * 1024 * 1024 + 1, 0x20);
		oversized.write("%PDF-1.4\n");
		const big = await upload(token, "anp_authorization", { number: "ANP-1" }, { content: oversized, name: "big.pdf" });
		expect(big.status).toBe(413);
		expect(big.body.code).toBe(413);

		const badCnpj = await upload(
			token,
			"company_registration",
			{ cnpj: "11.222.333/0001-82" },
			{ content: files.pdf(), name: "c.pdf" },
		);
		expect(badCnpj.status).toBe(422);
		expect(badCnpj.body.data.fields).toEqual([expect.objectContaining({ field: "metadata.cnpj" })]);
		const wrongType = await upload(
			token,
			"drivers_licence",
			{ category: "B", issueDate: "2010-01-01" },
			{ content: files.pdf(), name: "x.pdf" },
		);
		expect(wrongType.status).toBe(422);
		const unknownField = await upload(
			token,
			"anp_authorization",
			{ number: "ANP-1" },
			{ content: files.pdf(), name: "a.pdf" },
			{ userId: "x" },
		);
		expect(unknownField.status).toBe(422);
		const notJson = await upload(token, "anp_authorization", "{oops", { content: files.pdf(), name: "a.pdf" });
		expect(notJson.status).toBe(422);

		expect(storedFiles()).toEqual(before);
		expect((await status(token)).body.documents).toEqual([]);
		expect(recorder.ofType("document.uploaded").filter((e) => e.data.userId === state.supplier.userId)).toEqual([]);
	});

	test("a JSON body sent to the upload route is a 415, not a 500", async () => {
		const asJson = await api.post(
			"/api/verification/documents",
			{ type: "anp_authorization" },
			{ token: state.supplier.token },
		);
		expect(asJson.status).toBe(415);
		expect(asJson.body.type).toBe("UNSUPPORTED_MEDIA_TYPE");
	});

	test("a file whose bytes are PNG but whose name or declared type says PDF is refused (415), nothing stored", async () => {
		const { token } = state.supplier;
		const before = storedFiles();
		const named = await upload(
			token,
			"anp_authorization",
			{ number: "ANP-1" },
			{ content: files.png(), name: "anp.pdf" },
		);
		expect(named.status).toBe(415);
		expect(named.body.type).toBe("FILE_TYPE_MISMATCH");
		const declared = await upload(
			token,
			"anp_authorization",
			{ number: "ANP-1" },
			{ content: files.png(), name: "anp", contentType: "application/pdf" },
		);
		expect(declared.status).toBe(415);
		expect(declared.body.type).toBe("FILE_TYPE_MISMATCH");
		expect(storedFiles()).toEqual(before);
	});

	test("a malformed or cut-off multipart body is a 400, not a 500", async () => {
		const { token } = state.supplier;
		const before = storedFiles();
		const noBoundary = await rawUpload(token, "multipart/form-data", "garbage");
		expect(noBoundary.status).toBe(400);
		expect(noBoundary.body.type).toBe("MALFORMED_MULTIPART");
		const garbage = await rawUpload(token, "multipart/form-data; boundary=XyZ", "garbage");
		expect(garbage.status).toBe(400);
		const head =
			'--XyZ\r\nContent-Disposition: form-data; name="type"\r\n\r\nanp_authorization\r\n' +
			'--XyZ\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n{"number":"ANP-0012345"}\r\n' +
			'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\nContent-Type: application/pdf\r\n\r\n';
		const cutOff = await rawUpload(token, "multipart/form-data; boundary=XyZ", head + "%PDF-1.4\n% half a fi");
		expect(cutOff.status).toBe(400);
		expect(cutOff.body.type).toBe("MALFORMED_MULTIPART");
		const cutInHeaders = await rawUpload(
			token,
			"multipart/form-data; boundary=XyZ",
			"--XyZ\r\nContent-Disposition: form-data; na",
		);
		expect(cutInHeaders.status).toBe(400);
		expect(storedFiles()).toEqual(before);
		// The gateway still answers normally afterwards.
		expect((await status(token)).status).toBe(200);
	});

	test("a path-traversal file name never becomes a path", async () => {
		const name = `../../../evil-${crypto.randomBytes(4).toString("hex")}.pdf`;
		const res = await upload(
			state.supplier.token,
			"anp_authorization",
			{ number: "ANP-0012345" },
			{ content: files.pdf(), name },
		);
		expect(res.status).toBe(201);
		expect(res.body.fileName).toBe(path.basename(name));
		expect(fs.existsSync(path.resolve(documentsDir, name))).toBe(false);
		expect(fs.existsSync(path.resolve(dataDir, path.basename(name)))).toBe(false);
		expect(storedFiles()).toEqual(expect.arrayContaining([`${res.body.id}.enc`]));
		expect(storedFiles().every((f) => /^[A-Za-z0-9_-]+\.enc$/.test(f))).toBe(true);
	});

	test("all supplier documents in → verification.requested; files on disk are encrypted", async () => {
		const { token, userId } = state.supplier;
		const { ids, plain } = await uploadAll(token, SUPPLIER_DOCS);
		const requested = await waitFor(() =>
			recorder.ofType("verification.requested").find((e) => e.data.userId === userId),
		);
		expect(requested.data.role).toBe("supplier");
		expect(recorder.ofType("document.uploaded").filter((e) => e.data.userId === userId).length).toBe(4);

		const mine = await status(token);
		expect(mine.body.status).toBe("in_review");
		// the traversal-named upload was pending and got superseded by the newer ANP upload
		expect(mine.body.documents.filter((d: any) => d.status === "superseded").length).toBe(1);

		const onDisk = fs.readFileSync(path.join(documentsDir, `${ids.anp_authorization}.enc`));
		const text = plain.anp_authorization.toString();
		expect(onDisk.includes(Buffer.from(text.split("\n")[1]))).toBe(false);
		expect(onDisk.subarray(0, 5).toString()).not.toBe("%PDF-");
		const doc = mine.body.documents.find((d: any) => d.id === ids.anp_authorization);
		expect(doc.sha256).toBe(crypto.createHash("sha256").update(plain.anp_authorization).digest("hex"));
		expect(doc.contentType).toBe("application/pdf");
		expect(mine.body.documents.find((d: any) => d.id === ids.company_registration).contentType).toBe("image/png");
		state.supplierDocs = { ids, plain };
	});

	test("only an admin downloads a document (decrypted, with its content type); users see only their own status", async () => {
		const { ids, plain } = state.supplierDocs;
		const own = await api.get(`/api/verification/documents/${ids.anp_authorization}/file`, {
			token: state.supplier.token,
		});
		expect(own.status).toBe(403);
		expect((await api.get(`/api/verification/documents/${ids.anp_authorization}/file`)).status).toBe(401);

		const res = await fetch(`${base}/api/verification/documents/${ids.company_registration}/file`, {
			headers: { Authorization: `Bearer ${adminToken}` },
		});
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toContain("image/png");
		expect(Buffer.from(await res.arrayBuffer()).equals(plain.company_registration)).toBe(true);

		const customer = await api.post("/api/users", {
			email: "customer@example.com",
			password: "s3cret-password",
			name: "Cliente",
		});
		expect(customer.status).toBeLessThan(300);
		const customerToken = await login("customer@example.com", "s3cret-password");
		const peek = await status(customerToken, `?userId=${state.supplier.userId}`);
		expect(peek.status).toBe(403);
		expect((await status(customerToken, "?queue=true")).status).toBe(403);
		expect((await review(ids.anp_authorization, { decision: "approve" }, state.supplier.token)).status).toBe(403);

		const queue = await status(adminToken, "?queue=true");
		expect(queue.status).toBe(200);
		expect(queue.body.rows.map((d: any) => d.id)).toEqual(expect.arrayContaining(Object.values(ids)));
		const asAdmin = await status(adminToken, `?userId=${state.supplier.userId}`);
		expect(asAdmin.body.status).toBe("in_review");
	});

	test("a rejection (with a reason) sends the supplier back to upload; the new upload goes to review", async () => {
		const { ids } = state.supplierDocs;
		const { token, userId } = state.supplier;
		expect((await review(ids.fire_safety_permit, { decision: "reject" })).status).toBe(422);
		expect((await review(ids.fire_safety_permit, { decision: "approve", extra: 1 })).status).toBe(422);
		const rejected = await review(ids.fire_safety_permit, { decision: "reject", reason: "Permit is illegible" });
		expect(rejected.status).toBe(200);
		expect(rejected.body.status).toBe("rejected");
		const event = await waitFor(() => recorder.ofType("verification.rejected").find((e) => e.data.userId === userId));
		expect(event.data).toMatchObject({
			role: "supplier",
			documentId: ids.fire_safety_permit,
			documentType: "fire_safety_permit",
			reason: "Permit is illegible",
		});
		expect((await review(ids.fire_safety_permit, { decision: "approve" })).status).toBe(409);

		const after = await status(token);
		expect(after.body.status).toBe("awaiting_documents");
		// A required document and the same document in the documents list have the same `id`.
		expect(after.body.required.find((d: any) => d.type === "fire_safety_permit")).toMatchObject({
			id: ids.fire_safety_permit,
			status: "rejected",
			reason: "Permit is illegible",
		});

		const again = await upload(token, "fire_safety_permit", SUPPLIER_DOCS.fire_safety_permit.metadata, {
			content: files.pdf(),
			name: "avcb-new.pdf",
		});
		expect(again.status).toBe(201);
		expect((await status(token)).body.status).toBe("in_review");
		await waitFor(() => recorder.ofType("verification.requested").filter((e) => e.data.userId === userId).length === 2);
		state.supplierDocs.ids.fire_safety_permit = again.body.id;
	});

	test("all approved → verification.approved, the supplier is active and becomes a catalog supplier", async () => {
		const { ids } = state.supplierDocs;
		const { userId } = state.supplier;
		for (const id of Object.values(ids) as string[])
			expect((await review(id, { decision: "approve" })).status).toBe(200);
		const approved = await waitFor(() =>
			recorder.ofType("verification.approved").find((e) => e.data.userId === userId),
		);
		expect(approved.data.role).toBe("supplier");
		const catalog = await waitFor(() => recorder.ofType("supplier.created").find((e) => e.data.supplierId === userId));
		expect(catalog.data).toMatchObject({
			name: supplierProfile.businessName,
			anpAuthorization: "ANP-0012345",
			location: supplierProfile.location,
			deliveryRadiusKm: 8,
		});
		const user = await api.get(`/api/users/${userId}`, { token: adminToken });
		expect(user.body.status).toBe("active");
		expect(user.body.verified).toEqual({ anpAuthorization: "ANP-0012345", cnpj: "11222333000181" });
		expect((await status(state.supplier.token)).body.status).toBe("approved");
		expect(recorder.ofType("verification.approved").filter((e) => e.data.userId === userId).length).toBe(1);

		const late = await upload(
			state.supplier.token,
			"anp_authorization",
			{ number: "ANP-2" },
			{ content: files.pdf(), name: "a.pdf" },
		);
		expect(late.status).toBe(409);
	});

	test("invite permissions: a supplier invites only couriers, others cannot invite; suppliers list only their own", async () => {
		const supplierToken = await login("supplier.one@example.com", "s3cret-password");
		state.supplier.token = supplierToken;
		const asSupplier = await invite(supplierToken, "other.supplier@example.com", "supplier");
		expect(asSupplier.status).toBe(403);
		const customerToken = await login("customer@example.com", "s3cret-password");
		expect((await invite(customerToken, "c@example.com", "courier")).status).toBe(403);
		expect((await invite(adminToken, "x@example.com", "admin")).status).toBe(422);
		expect((await invite(adminToken, "x@example.com", "courier", { code: "chosen" })).status).toBe(422);
		expect((await invite(adminToken, "not-an-email", "courier")).status).toBe(422);

		const byAdmin = await invite(adminToken, "admin.courier@example.com", "courier");
		const bySupplier = await invite(supplierToken, "courier.one@example.com", "courier");
		expect(bySupplier.status).toBe(201);
		expect(bySupplier.body.supplierId).toBe(state.supplier.userId);
		const supplierList = await api.get("/api/invites", { token: supplierToken });
		expect(supplierList.body.rows.map((i: any) => i.id)).toEqual([bySupplier.body.id]);
		const adminList = await api.get("/api/invites?status=pending&pageSize=1", { token: adminToken });
		expect(adminList.body).toMatchObject({ total: 2, page: 1, pageSize: 1 });
		expect(adminList.body.rows.length).toBe(1);
		expect((await api.get("/api/invites", { token: customerToken })).status).toBe(403);

		// revocation: the inviter or an admin, never someone else's
		expect((await api.post(`/api/invites/${byAdmin.body.id}/revoke`, {}, { token: supplierToken })).status).toBe(403);
		const revoked = await api.post(`/api/invites/${byAdmin.body.id}/revoke`, {}, { token: adminToken });
		expect(revoked.status).toBe(200);
		expect(revoked.body.status).toBe("revoked");
		expect((await api.get(`/api/invites/${byAdmin.body.code}`)).body).toMatchObject({
			valid: false,
			reason: "revoked",
		});
		const withRevoked = await register("admin.courier@example.com", byAdmin.body.code);
		expect(withRevoked.status).toBe(410);
		expect(withRevoked.body.type).toBe("INVITE_REVOKED");
		const accepted = (await api.get("/api/invites?status=accepted", { token: adminToken })).body.rows[0];
		const usedRevoke = await api.post(`/api/invites/${accepted.id}/revoke`, {}, { token: adminToken });
		expect(usedRevoke.status).toBe(409);
		expect(usedRevoke.body.type).toBe("INVITE_USED");
		state.courier = { code: bySupplier.body.code, inviteId: bySupplier.body.id };
	});

	test("a registration that fails after claiming the code releases the invite", async () => {
		const created = await invite(adminToken, "customer@example.com", "courier");
		const refused = await register("customer@example.com", created.body.code);
		expect(refused.status).toBe(409); // the e-mail is already a customer's
		expect((await api.get(`/api/invites/${created.body.code}`)).body).toMatchObject({ valid: true, reason: null });
		const listed = await api.get("/api/invites?status=pending", { token: adminToken });
		expect(listed.body.rows.find((i: any) => i.id === created.body.id).status).toBe("pending");
		expect(recorder.ofType("invitation.accepted").find((e) => e.data.inviteId === created.body.id)).toBeUndefined();
	});

	test("two registrations racing on one code: one wins, the other gets 409", async () => {
		const [a, b] = await Promise.all([
			register("courier.one@example.com", state.courier.code, { name: "Racer A" }),
			register("courier.one@example.com", state.courier.code, { name: "Racer B" }),
		]);
		const winners = [a, b].filter((r) => r.status < 300);
		const losers = [a, b].filter((r) => r.status >= 300);
		expect(winners.length).toBe(1);
		expect(losers.map((r) => r.status)).toEqual([409]);
		const winner = winners[0];
		expect(winner.body).toMatchObject({
			role: "courier",
			status: "pending_verification",
			supplierId: state.supplier.userId,
		});
		const accepted = await waitFor(() =>
			recorder.ofType("invitation.accepted").find((e) => e.data.userId === winner.body.id),
		);
		expect(accepted.data).toMatchObject({
			role: "courier",
			supplierId: state.supplier.userId,
			inviteId: state.courier.inviteId,
		});
		await new Promise((r) => setTimeout(r, 100));
		expect(
			recorder.ofType("invitation.accepted").filter((e) => e.data.inviteId === state.courier.inviteId).length,
		).toBe(1);
		state.courier.userId = winner.body.id;
		expect((await api.get(`/api/invites/${state.courier.code}`)).body).toMatchObject({ valid: false, reason: "used" });
	});

	test("the courier uploads (vehicle rules enforced), gets reviewed and becomes active", async () => {
		const token = await login("courier.one@example.com", "s3cret-password");
		await waitFor(async () => (await status(token)).status === 200);
		const noSidecar = await upload(
			token,
			"vehicle_document",
			{ vehicleType: "motorcycle", plate: "ABC1D23" },
			{ content: files.pdf(), name: "v.pdf" },
		);
		expect(noSidecar.status).toBe(422);
		expect(noSidecar.body.data.fields[0].field).toBe("metadata.hasSidecar");
		const { ids } = await uploadAll(token, COURIER_DOCS);
		const mismatch = await upload(
			token,
			"drivers_licence",
			{ category: "B", issueDate: "2015-01-01" },
			{ content: files.pdf(), name: "c.pdf" },
		);
		expect(mismatch.status).toBe(422); // a B licence does not cover the motorcycle on file
		await waitFor(() => recorder.ofType("verification.requested").find((e) => e.data.userId === state.courier.userId));
		for (const id of Object.values(ids)) expect((await review(id, { decision: "approve" })).status).toBe(200);
		const approved = await waitFor(() =>
			recorder.ofType("verification.approved").find((e) => e.data.userId === state.courier.userId),
		);
		expect(approved.data.role).toBe("courier");
		const user = await api.get(`/api/users/${state.courier.userId}`, { token: adminToken });
		expect(user.body).toMatchObject({ status: "active", supplierId: state.supplier.userId });
		expect(recorder.ofType("supplier.created").find((e) => e.data.supplierId === state.courier.userId)).toBeUndefined();
		state.courierDocs = ids;
	});

	test("a restart keeps invites, requests and documents (still decryptable)", async () => {
		const pending = await invite(adminToken, "after.restart@example.com", "supplier");
		const halfway = await onboard(adminToken, "halfway@example.com", "courier");
		const content = files.pdf();
		const doc = await upload(halfway.token, "courier_training", COURIER_DOCS.courier_training.metadata, {
			content,
			name: "t.pdf",
		});
		expect(doc.status).toBe(201);
		await broker.stop();

		await start();
		expect((await api.get(`/api/invites/${pending.body.code}`)).body).toMatchObject({ valid: true, role: "supplier" });
		const token = await login("halfway@example.com", "s3cret-password");
		const kept = await status(token);
		expect(kept.body.status).toBe("awaiting_documents");
		expect(kept.body.documents.map((d: any) => d.id)).toEqual([doc.body.id]);
		const res = await fetch(`${base}/api/verification/documents/${doc.body.id}/file`, {
			headers: { Authorization: `Bearer ${adminToken}` },
		});
		expect(Buffer.from(await res.arrayBuffer()).equals(content)).toBe(true);
		expect((await status(adminToken, `?userId=${state.supplier.userId}`)).body.status).toBe("approved");
		expect((await register("halfway@example.com", halfway.code)).status).toBe(409);
		state.halfwayDocumentId = doc.body.id;
	});
});

describe("expiry", () => {
	beforeAll(async () => {
		await broker.stop();
		await start({ INVITE_TTL_HOURS: "0", INVITE_EXPIRY_SWEEP_MS: "100" });
	});

	test("an expired code is refused, and the sweep marks it expired once with invitation.expired", async () => {
		const created = await invite(adminToken, "late@example.com", "courier");
		expect(created.status).toBe(201);
		expect((await api.get(`/api/invites/${created.body.code}`)).body).toMatchObject({
			valid: false,
			reason: "expired",
		});
		const refused = await register("late@example.com", created.body.code);
		expect(refused.status).toBe(410);
		expect(refused.body.type).toBe("INVITE_EXPIRED");

		const event = await waitFor(() =>
			recorder.ofType("invitation.expired").find((e) => e.data.inviteId === created.body.id),
		);
		expect(event.data).toMatchObject({ email: "late@example.com", role: "courier" });
		expect(await broker.call("invitations.expireDue", {})).toEqual({ expired: 0 });
		const list = await api.get("/api/invites?status=expired", { token: adminToken });
		expect(list.body.rows.map((i: any) => i.id)).toContain(created.body.id);
		expect(recorder.ofType("invitation.expired").filter((e) => e.data.inviteId === created.body.id).length).toBe(1);
		expect((await api.post(`/api/invites/${created.body.id}/revoke`, {}, { token: adminToken })).body.type).toBe(
			"INVITE_EXPIRED",
		);
	});

	// Last: once the admin has MFA, ADMIN's plain password login no longer works in this file.
	test("with MFA on, reviewing and downloading need an MFA-verified admin token", async () => {
		const id = state.halfwayDocumentId;
		const setup = await api.post("/api/auth/mfa/setup", {}, { token: adminToken });
		expect(setup.status).toBe(200);
		const enabled = await api.post(
			"/api/auth/mfa/enable",
			{ code: currentTotp(setup.body.secret) },
			{ token: adminToken },
		);
		expect(enabled.status).toBe(200);
		const withoutMfa = await review(id, { decision: "approve" });
		expect(withoutMfa.status).toBe(403);
		expect(withoutMfa.body.type).toBe("MFA_REQUIRED");
		expect((await api.get(`/api/verification/documents/${id}/file`, { token: adminToken })).status).toBe(403);
		const approved = await review(id, { decision: "approve" }, enabled.body.token);
		expect(approved.status).toBe(200);
		expect(approved.body).toMatchObject({ status: "approved", reviewedBy: expect.any(String) });
	});
});
