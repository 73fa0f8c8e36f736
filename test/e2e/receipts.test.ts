/**
 * CPF na nota and receipts over HTTP: the CPF's check digits are validated on the order; a delivered
 * order's receipt carries the items, deposits, delivery fee, payment method, the supplier's name and
 * CNPJ and the CPF; only the customer, the supplier and admins download it.
 */
import { adminToken, createCustomer, Market, MARKET_SERVICES, orderBody, startMarket } from "../helpers/market";
import { deliveredOrder, orderInTransit, Shop, shopWithCourier } from "../helpers/delivered";
import { waitFor } from "../helpers/broker";

describe("CPF and receipts (HTTP)", () => {
	let m: Market;
	let shop: Shop;

	beforeAll(async () => {
		m = await startMarket({}, [...MARKET_SERVICES, "couriers", "receipts"]);
		shop = await shopWithCourier(m, {}, { businessName: "Gás Bom Centro", cnpj: "11.222.333/0001-81" });
	});
	afterAll(() => m.stop());

	test("a CPF with wrong check digits is refused (422 on cpf); nothing is ordered", async () => {
		const customer = await createCustomer(m);
		const res = await m.api.post(
			"/api/orders",
			orderBody(shop.supplier.id, shop.product.id, { cpf: "529.982.247-24" }),
			{
				token: customer.token,
			},
		);
		expect(res.status).toBe(422);
		expect(JSON.stringify(res.body)).toContain("cpf");
		const mine = await m.api.get("/api/orders?withTotal=true", { token: customer.token });
		expect(mine.body.total).toBe(0);
	});

	test("the delivered order's receipt says what was sold, for how much, by whom, to which CPF; only its parties fetch it", async () => {
		const { customer, order } = await deliveredOrder(m, shop, {
			cpf: "529.982.247-25",
			items: [{ productId: shop.product.id, quantity: 1, exchange: false }],
		});
		const asCourier = await m.api.get(`/api/orders/${order.id}`, { token: shop.courier.token });
		expect(asCourier.body.cpf).toBeUndefined();
		const asCustomer = await m.api.get(`/api/orders/${order.id}`, { token: customer.token });
		expect(asCustomer.body.cpf).toBe("52998224725");

		const res = await waitFor(async () => {
			const r = await m.api.get(`/api/orders/${order.id}/receipt`, { token: customer.token });
			return r.status === 200 ? r : null;
		}, 5000);
		expect(res!.headers.get("content-type")).toMatch(/text\/html/);
		expect(res!.headers.get("content-disposition")).toContain(`recibo-${order.id}.html`);
		const html = res!.text;
		const t = asCustomer.body.totals;
		const brl = (c: number) => `R$ ${Math.floor(c / 100).toLocaleString("pt-BR")},${String(c % 100).padStart(2, "0")}`;
		expect(html).toContain("Gás Bom Centro");
		expect(html).toContain("11.222.333/0001-81");
		expect(html).toContain("529.982.247-25");
		expect(html).toContain(`<td class="n" id="deposits">${brl(t.depositsCents)}</td>`);
		expect(html).toContain(`<td class="n" id="delivery-fee">${brl(t.deliveryFeeCents)}</td>`);
		expect(html).toContain(`<td class="n" id="total">${brl(t.totalCents)}</td>`);
		expect(t.depositsCents).toBeGreaterThan(0);
		expect(html).toContain('<span id="payment-method">Cartão</span>');

		expect((await m.api.get(`/api/orders/${order.id}/receipt`, { token: shop.supplier.token })).status).toBe(200);
		expect((await m.api.get(`/api/orders/${order.id}/receipt`, { token: await adminToken(m.api) })).status).toBe(200);
		expect((await m.api.get(`/api/orders/${order.id}/receipt`, { token: shop.courier.token })).status).toBe(403);
		const stranger = await createCustomer(m);
		expect((await m.api.get(`/api/orders/${order.id}/receipt`, { token: stranger.token })).status).toBe(403);
		expect((await m.api.get(`/api/orders/${order.id}/receipt`)).status).toBe(401);
		expect(m.events.ofType("receipt.issued").filter((e) => e.data.orderId === order.id)).toHaveLength(1);
	});

	test("an order not delivered has no receipt (404)", async () => {
		const { customer, order } = await orderInTransit(m, shop);
		expect((await m.api.get(`/api/orders/${order.id}/receipt`, { token: customer.token })).status).toBe(404);
	});
});
