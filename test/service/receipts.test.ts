/**
 * The receipts service with a fake orders service (receiptFacts): a receipt per delivered order,
 * issued once, with what it must say; only the customer, the supplier and admins fetch it.
 */
import { ServiceBroker } from "moleculer";
import { eventRecorder, startBroker, waitFor } from "../helpers/broker";
import { channelName } from "../../mixins/events.mixin";
import { topicOf } from "../../lib/domain/events";
import type { ReceiptOrder } from "../../lib/domain/receipt";

const facts = new Map<string, ReceiptOrder>();
let factCalls = 0;
/** users' side: the supplier's verified CNPJ, asked when a receipt is issued. */
const fakeUsers = {
	name: "users",
	actions: {
		supplierFacts: {
			params: { id: "string" },
			handler(ctx: { params: { id: string } }) {
				return ctx.params.id === "sup-1" ? { name: "Gás Bom Ltda", cnpj: "11222333000181" } : null;
			},
		},
	},
};

const fakeOrders = {
	name: "orders",
	actions: {
		receiptFacts: {
			params: { orderId: "string" },
			handler(ctx: { params: { orderId: string } }) {
				factCalls++;
				return facts.get(ctx.params.orderId) ?? null;
			},
		},
	},
};

const order = (id: string, over: Partial<ReceiptOrder> = {}): ReceiptOrder => ({
	orderId: id,
	status: "delivered",
	customerId: "cust-1",
	customerName: "Maria <b>Cliente</b>",
	supplierId: "sup-1",
	supplierName: "Gás Bom",
	items: [
		{
			productId: "p13",
			type: "P13",
			quantity: 2,
			exchange: false,
			unitPriceCents: 11000,
			depositCents: 15000,
			lineCents: 52000,
		},
	],
	totals: { itemsCents: 22000, depositsCents: 30000, deliveryFeeCents: 650, totalCents: 52650 },
	paymentMethod: "pix",
	cpf: "52998224725",
	deliveredAt: "2026-12-02T15:30:00.000Z",
	deliveryAddress: { street: "Rua A", number: "1", city: "São Paulo" },
	...over,
});
const as = (id: string, role: string) => ({ meta: { user: { id, role, status: "active" } } });

describe("receipts service", () => {
	let broker: ServiceBroker;
	const recorder = eventRecorder();
	let seq = 0;
	const send = (type: string, data: object) =>
		(broker as unknown as { sendToChannel(c: string, p: unknown): Promise<void> }).sendToChannel(
			channelName(topicOf(type)),
			{ id: `ev-${++seq}-${Date.now()}`, type, time: new Date().toISOString(), actor: "test", requestId: null, data },
		);
	const fetch = (orderId: string, who = as("cust-1", "customer")) =>
		broker.call("receipts.get", { id: orderId }, who) as Promise<Buffer>;

	beforeAll(async () => {
		broker = await startBroker({ services: ["receipts"], extraServices: [fakeOrders, fakeUsers, recorder.schema] });
		await send("supplier.created", {
			supplierId: "sup-1",
			name: "Gás Bom Ltda",
			location: null,
			deliveryRadiusKm: 10,
			openingHours: null,
		});
		await new Promise((r) => setTimeout(r, 200));
	});
	afterAll(() => broker.stop());

	test("order.delivered issues the receipt once, with items, deposits, fee, payment, CNPJ and CPF, escaped", async () => {
		facts.set("o-1", order("o-1"));
		await send("order.delivered", { orderId: "o-1", customerId: "cust-1", supplierId: "sup-1" });
		const html = (await waitFor(() => fetch("o-1").catch(() => null), 5000))!.toString("utf8");
		expect(html).toContain("Gás Bom Ltda");
		expect(html).toContain("11.222.333/0001-81");
		expect(html).toContain("529.982.247-25");
		expect(html).toContain("R$ 526,50"); // total
		expect(html).toContain("R$ 300,00"); // deposits
		expect(html).toContain("R$ 6,50"); // delivery fee
		expect(html).toContain("PIX");
		expect(html).toContain("Maria &lt;b&gt;Cliente&lt;/b&gt;");
		expect(html).not.toContain("<b>Cliente</b>");
		// a redelivered event or a second request issues nothing new
		const calls = factCalls;
		await send("order.delivered", { orderId: "o-1", customerId: "cust-1", supplierId: "sup-1" });
		await broker.call("receipts.issue", { orderId: "o-1" });
		await new Promise((r) => setTimeout(r, 200));
		expect(factCalls).toBe(calls);
		expect(recorder.ofType("receipt.issued").filter((e) => e.data.orderId === "o-1")).toHaveLength(1);
		expect(recorder.ofType("receipt.issued")[0].data).toMatchObject({ provider: "html", hasCpf: true });
		expect(JSON.stringify(recorder.ofType("receipt.issued"))).not.toContain("52998224725");
	});

	test("only the customer, the supplier and admins fetch it; none before delivery; no CPF line without one", async () => {
		await expect(fetch("o-1", as("sup-1", "supplier"))).resolves.toBeInstanceOf(Buffer);
		await expect(fetch("o-1", as("admin-1", "admin"))).resolves.toBeInstanceOf(Buffer);
		for (const who of [as("cust-2", "customer"), as("sup-2", "supplier"), as("cour-1", "courier")])
			await expect(fetch("o-1", who)).rejects.toMatchObject({ code: 403 });
		await expect(fetch("nope")).rejects.toMatchObject({ code: 404 });

		facts.set("o-2", order("o-2", { status: "in_transit" }));
		await expect(broker.call("receipts.issue", { orderId: "o-2" })).rejects.toMatchObject({ code: 409 });
		await expect(fetch("o-2")).rejects.toMatchObject({ code: 404 });

		facts.set("o-3", order("o-3", { cpf: null, supplierId: "sup-unknown", supplierName: "Revenda X" }));
		await broker.call("receipts.issue", { orderId: "o-3" });
		const html = (await fetch("o-3")).toString("utf8");
		expect(html).not.toContain("CPF");
		expect(html).toContain('Revenda X — CNPJ <span id="cnpj">não informado');
	});
});
