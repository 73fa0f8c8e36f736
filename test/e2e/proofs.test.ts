/**
 * Proof of delivery over HTTP: the order's courier attaches a photo (multipart) while delivering;
 * a cylinder left with someone for an absent customer cannot be closed without a photo naming them;
 * the photo is stored encrypted and seen by the customer, the supplier and admins only.
 */
import crypto from "crypto";
import fs from "fs";
import path from "path";
import { adminToken, createCustomer, Market, MARKET_SERVICES, startMarket } from "../helpers/market";
import { orderInTransit, Shop, shopWithCourier } from "../helpers/delivered";
import { gatewayUrl } from "../helpers/broker";

const png = () =>
	Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), crypto.randomBytes(64)]);

describe("proof of delivery (HTTP)", () => {
	let m: Market;
	let shop: Shop;
	let base: string;
	const docsDir = fs.mkdtempSync(path.join(require("os").tmpdir(), "gasrapido-proofs-"));

	async function attach(orderId: string, token: string, content: Buffer, leftWith?: string) {
		const form = new FormData();
		if (leftWith !== undefined) form.append("leftWith", leftWith);
		form.append("file", new Blob([new Uint8Array(content)], { type: "image/png" }), "porta.png");
		const res = await fetch(`${base}/api/orders/${orderId}/proof`, {
			method: "POST",
			headers: { Authorization: `Bearer ${token}` },
			body: form,
		});
		return { status: res.status, body: (await res.json().catch(() => null)) as Record<string, unknown> | null };
	}
	const deliver = (orderId: string, code: string, extra: Record<string, unknown> = {}) =>
		m.api.put(
			`/api/orders/${orderId}/status`,
			{ status: "delivered", handoverCode: code, ...extra },
			{ token: shop.courier.token },
		);

	beforeAll(async () => {
		m = await startMarket({ DOCUMENTS_DIR: docsDir }, [...MARKET_SERVICES, "couriers", "proofs"]);
		base = gatewayUrl(m.broker);
		shop = await shopWithCourier(m);
	});
	afterAll(async () => {
		await m.stop();
		fs.rmSync(docsDir, { recursive: true, force: true });
	});

	test("left with a neighbour: no photo, no delivery (422); with the photo the name is recorded; parties see it", async () => {
		const { customer, order } = await orderInTransit(m, shop);
		const early = await deliver(order.id, order.handoverCode, { leftWith: "Dona Zefa (vizinha)" });
		expect(early.status).toBe(422);
		expect(early.body.type).toBe("PROOF_PHOTO_REQUIRED");

		// nobody but the order's courier attaches it; only images
		expect((await attach(order.id, customer.token, png(), "X")).status).toBe(403);
		expect((await attach(order.id, shop.courier.token, Buffer.from("%PDF-1.4 not a photo"), "X")).status).toBe(415);
		const photo = png();
		const attached = await attach(order.id, shop.courier.token, photo, "  Dona Zefa   (vizinha) ");
		expect(attached.status).toBe(201);
		expect(attached.body).toMatchObject({
			orderId: order.id,
			leftWith: "Dona Zefa (vizinha)",
			contentType: "image/png",
		});
		expect(attached.body!.fileId).toBeUndefined();
		expect((await attach(order.id, shop.courier.token, png())).status).toBe(409);

		// stored encrypted: the photo's bytes are nowhere on disk
		const files = fs.readdirSync(docsDir, { recursive: true }) as string[];
		const blobs = files.filter((f) => f.endsWith(".enc")).map((f) => fs.readFileSync(path.join(docsDir, f)));
		expect(blobs.length).toBeGreaterThan(0);
		expect(blobs.some((b) => b.includes(photo.subarray(8, 40)))).toBe(false);

		const done = await deliver(order.id, order.handoverCode, { leftWith: "Dona Zefa (vizinha)" });
		expect(done.status).toBe(200);
		expect(done.body.history.at(-1).reason).toBe("left with Dona Zefa (vizinha)");

		for (const token of [customer.token, shop.supplier.token, await adminToken(m.api)]) {
			const res = await fetch(`${base}/api/orders/${order.id}/proof/photo`, {
				headers: { Authorization: `Bearer ${token}` },
			});
			expect(res.status).toBe(200);
			expect(res.headers.get("content-type")).toBe("image/png");
			expect(Buffer.from(await res.arrayBuffer()).equals(photo)).toBe(true);
		}
		const stranger = await createCustomer(m);
		expect((await m.api.get(`/api/orders/${order.id}/proof`, { token: stranger.token })).status).toBe(403);
		expect((await m.api.get(`/api/orders/${order.id}/proof`, { token: shop.courier.token })).status).toBe(403);
		const meta = await m.api.get(`/api/orders/${order.id}/proof`, { token: customer.token });
		expect(meta.body).toMatchObject({
			leftWith: "Dona Zefa (vizinha)",
			photoUrl: `/api/orders/${order.id}/proof/photo`,
		});
	});

	test("a customer at the door: the photo is optional and the handover code alone closes the delivery", async () => {
		const { order } = await orderInTransit(m, shop);
		expect((await deliver(order.id, order.handoverCode)).status).toBe(200);
		// not in transit any more: no proof can be attached afterwards
		expect((await attach(order.id, shop.courier.token, png())).status).toBe(409);
	});
});
