/**
 * The proofs service with a fake orders service (trackingView, the real visibility rule): the
 * order's courier attaches one photo while in transit; parties read it back decrypted; forOrder
 * answers orders' check.
 */
import { Readable } from "stream";
import crypto from "crypto";
import { ServiceBroker } from "moleculer";
import { eventRecorder, startBroker, waitFor } from "../helpers/broker";
import type { Role } from "../../lib/contracts/common";
import type { Order } from "../../lib/contracts/orders";
import { trackingView } from "../../lib/domain/orders";

const orders = new Map<string, Partial<Order>>();
const fakeOrders = {
	name: "orders",
	actions: {
		trackingView: {
			handler(ctx: { params: { orderId: string; userId: string; role: Role } }) {
				const o = orders.get(ctx.params.orderId);
				const order = o ? ({ _id: ctx.params.orderId, deliveryLocation: { lat: 0, lng: 0 }, ...o } as Order) : null;
				return trackingView(order, { id: ctx.params.userId, role: ctx.params.role });
			},
		},
	},
};
const as = (id: string, role: string, extra: Record<string, unknown> = {}) => ({
	meta: { user: { id, role, status: "active" }, ...extra },
});
const jpeg = () => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), crypto.randomBytes(100)]);

describe("proofs service", () => {
	let broker: ServiceBroker;
	const recorder = eventRecorder();
	const attach = (orderId: string, who: string, content: Buffer, leftWith?: string) =>
		broker.call("proofs.attach", Readable.from([content]), {
			meta: {
				user: { id: who, role: who.startsWith("cour") ? "courier" : "customer" },
				$params: { id: orderId },
				$multipart: leftWith ? { leftWith } : {},
			},
		});

	beforeAll(async () => {
		broker = await startBroker({ services: ["proofs"], extraServices: [fakeOrders, recorder.schema] });
		orders.set("o-1", { status: "in_transit", customerId: "cust-1", supplierId: "sup-1", courierId: "cour-1" });
		orders.set("o-2", { status: "confirmed", customerId: "cust-1", supplierId: "sup-1", courierId: "cour-1" });
	});
	afterAll(() => broker.stop());

	test("the courier attaches one photo in transit; the name is kept; parties read the photo back", async () => {
		expect(await broker.call("proofs.forOrder", { orderId: "o-1" })).toBeNull();
		await expect(attach("o-1", "cour-2", jpeg(), "Ana")).rejects.toMatchObject({ code: 403 });
		await expect(attach("o-1", "cust-1", jpeg(), "Ana")).rejects.toMatchObject({ code: 403 });
		await expect(attach("o-2", "cour-1", jpeg(), "Ana")).rejects.toMatchObject({ code: 409, type: "NOT_IN_TRANSIT" });
		await expect(attach("nope", "cour-1", jpeg())).rejects.toMatchObject({ code: 404 });
		await expect(attach("o-1", "cour-1", Buffer.from("GIF89a......"))).rejects.toMatchObject({ code: 415 });
		const photo = jpeg();
		await expect(attach("o-1", "cour-1", photo, " Ana  Souza ")).resolves.toMatchObject({
			leftWith: "Ana Souza",
			contentType: "image/jpeg",
			courierId: "cour-1",
		});
		await expect(attach("o-1", "cour-1", jpeg())).rejects.toMatchObject({ code: 409, type: "PROOF_EXISTS" });
		expect(await broker.call("proofs.forOrder", { orderId: "o-1" })).toMatchObject({ leftWith: "Ana Souza" });
		for (const who of [as("cust-1", "customer"), as("sup-1", "supplier"), as("admin-1", "admin")]) {
			const back = (await broker.call("proofs.photo", { id: "o-1" }, who)) as Buffer;
			expect(Buffer.compare(back, photo)).toBe(0);
		}
		for (const who of [as("cust-2", "customer"), as("sup-2", "supplier"), as("cour-1", "courier")])
			await expect(broker.call("proofs.get", { id: "o-1" }, who)).rejects.toMatchObject({ code: 403 });
		const event = await waitFor(() => recorder.ofType("delivery.proof_attached").find((e) => e.data.orderId === "o-1"));
		expect(event.data).toEqual({
			orderId: "o-1",
			courierId: "cour-1",
			supplierId: "sup-1",
			customerId: "cust-1",
			leftWith: true,
		});
	});
});
