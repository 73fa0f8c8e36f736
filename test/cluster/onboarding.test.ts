/**
 * Invitation-only onboarding split over processes (gateway | onboarding | products), events on
 * JetStream: an admin invites a supplier, the supplier registers with the code, uploads the three
 * documents as multipart through the gateway, the admin approves them, the supplier is active and
 * the products service (another process) knows them as a catalog supplier, so they can list products.
 */
import crypto from "crypto";
import { ADMIN } from "../helpers/broker";
import { Cluster, clusterTest, eventually, startCluster } from "../helpers/cluster";
import { describeWithInfra } from "../helpers/infra";
import { login, Market } from "../helpers/market";
import { group, MARKET_ENV, marketOver } from "./flows";

const pdf = () =>
	Buffer.from(`%PDF-1.4\n% ${crypto.randomBytes(8).toString("hex")}\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n`);
const png = () =>
	Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), crypto.randomBytes(64)]);
const DOCS = [
	{
		type: "anp_authorization",
		metadata: { number: "ANP-0012345" },
		content: pdf,
		contentType: "application/pdf",
		name: "anp.pdf",
	},
	{
		type: "company_registration",
		metadata: { cnpj: "11.222.333/0001-81", legalName: "Gás Bom Ltda" },
		content: png,
		contentType: "image/png",
		name: "cnpj.png",
	},
	{
		type: "fire_safety_permit",
		metadata: { number: "AVCB 2024/991", validUntil: "2099-12-31" },
		content: pdf,
		contentType: "application/pdf",
		name: "avcb.pdf",
	},
];
const supplierProfile = {
	businessName: "Gás Cluster Ltda",
	location: { lat: -23.55, lng: -46.63 },
	deliveryRadiusKm: 8,
	openingHours: { open: "07:00", close: "20:00" },
};

describeWithInfra(["nats"], "cluster: onboarding over NATS", () => {
	let cluster: Cluster | undefined;
	let m: Market;
	const it = clusterTest(() => cluster);
	jest.setTimeout(90_000);

	beforeAll(async () => {
		cluster = await startCluster([group("gateway"), group("onboarding"), group("products")], { env: MARKET_ENV });
		m = await marketOver(cluster, ["users", "invitations", "verification", "products"]);
	});
	afterAll(async () => {
		await cluster?.stopAll();
	});

	async function upload(token: string, doc: (typeof DOCS)[number]) {
		const form = new FormData();
		form.append("type", doc.type);
		form.append("metadata", JSON.stringify(doc.metadata));
		form.append("file", new Blob([doc.content()], { type: doc.contentType }), doc.name);
		const res = await fetch(`${cluster!.gatewayUrl}/api/verification/documents`, {
			method: "POST",
			headers: { Authorization: `Bearer ${token}` },
			body: form,
		});
		return { status: res.status, body: (await res.json()) as any };
	}

	it("invite → register with the code → upload documents → admin review → active catalog supplier", async () => {
		const admin = await eventually(() => login(m.api, ADMIN.email, ADMIN.password).catch(() => ""), 10_000);
		const invite = await m.api.post(
			"/api/invites",
			{ email: "supplier@cluster.test", role: "supplier" },
			{ token: admin },
		);
		expect(invite.status).toBe(201);
		expect((await m.api.get(`/api/invites/${invite.body.code}`)).body).toMatchObject({ valid: true, role: "supplier" });

		const registered = await m.api.post("/api/users", {
			email: "supplier@cluster.test",
			password: "s3cret-password",
			name: "Supplier",
			inviteCode: invite.body.code,
			supplierProfile,
		});
		expect(registered.status).toBeLessThan(300);
		expect(registered.body).toMatchObject({ role: "supplier", status: "pending_verification" });
		const userId = registered.body.id;
		const token = await login(m.api, "supplier@cluster.test", "s3cret-password");
		// the verification request is opened by the invitation.accepted event, on JetStream
		const opened = await eventually(async () => {
			const res = await m.api.get("/api/verification/status", { token });
			return res.status === 200 && res.body;
		}, 10_000);
		expect(opened.status).toBe("awaiting_documents");

		// a pending supplier cannot list products yet
		const early = await m.api.post(
			"/api/products",
			{ type: "P13", priceCents: 11000, depositCents: 15000, stock: 5 },
			{ token },
		);
		expect(early.status).toBe(409); // SUPPLIER_NOT_ACTIVE

		const ids: string[] = [];
		for (const doc of DOCS) {
			const res = await upload(token, doc);
			expect(res.status).toBe(201);
			ids.push(res.body.id);
		}
		await eventually(() => m.events.ofType("verification.requested").find((e) => e.data.userId === userId), 10_000);
		expect((await m.api.get("/api/verification/status", { token })).body.status).toBe("in_review");

		expect(
			(await m.api.put(`/api/verification/documents/${ids[0]}/review`, { decision: "approve" }, { token })).status,
		).toBe(403);
		for (const id of ids)
			expect(
				(await m.api.put(`/api/verification/documents/${id}/review`, { decision: "approve" }, { token: admin })).status,
			).toBe(200);

		await eventually(() => m.events.ofType("verification.approved").find((e) => e.data.userId === userId), 10_000);
		const catalog = await eventually(
			() => m.events.ofType("supplier.created").find((e) => e.data.supplierId === userId),
			10_000,
		);
		expect(catalog.data).toMatchObject({ name: supplierProfile.businessName, anpAuthorization: "ANP-0012345" });
		expect((await m.api.get(`/api/users/${userId}`, { token: admin })).body.status).toBe("active");

		// products (its own process) learnt the supplier from supplier.created: the supplier lists a product
		const listed = await eventually(
			async () => {
				const res = await m.api.post(
					"/api/products",
					{ type: "P13", priceCents: 11000, depositCents: 15000, stock: 5 },
					{ token },
				);
				return res.status === 201 && res;
			},
			10_000,
			200,
		);
		expect(listed.body.supplierId).toBe(userId);
	});
});
