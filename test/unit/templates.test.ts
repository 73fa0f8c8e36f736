import {
	formatMoney,
	inviteLink,
	localizedVars,
	normalizeLocale,
	NOTIFIED_EVENTS,
	orderRef,
	plannedMessages,
	render,
} from "../../lib/domain/templates";

const opts = { publicUrl: "https://gas.example/" };

describe("templates", () => {
	it("formats money and order references per locale", () => {
		expect(formatMoney(12990, "pt-BR")).toBe("R$\u00a0129,90");
		expect(formatMoney(12990, "en")).toBe("R$129.90");
		expect(orderRef("abcdef123456")).toBe("#123456");
		expect(normalizeLocale("en-US")).toBe("en");
		expect(normalizeLocale("fr")).toBe("pt-BR");
		expect(normalizeLocale(undefined)).toBe("pt-BR");
	});

	it("renders each message in Portuguese and English", () => {
		const vars = { ref: "#ABC123", totalCents: 5000, promisedBy: "2030-01-01T15:00:00Z" };
		const pt = render("order_confirmed", "pt-BR", localizedVars(vars, "pt-BR"));
		const en = render("order_confirmed", "en", localizedVars(vars, "en"));
		expect(pt.subject).toBe("Pedido #ABC123 confirmado");
		expect(pt.body).toContain("R$\u00a050,00");
		expect(pt.body).toContain("01/01/2030, 12:00");
		expect(en.subject).toBe("Order #ABC123 confirmed");
		expect(en.body).toContain("R$50.00");
	});

	it("addresses the people concerned by each event", () => {
		const who = (type: string, data: any) =>
			plannedMessages({ type, data }, opts).map((m) => [m.template, m.recipient]);
		expect(who("order.created", { orderId: "o", supplierId: "s", customerId: "c" })).toEqual([
			["new_order", { kind: "user", userId: "s" }],
		]);
		expect(who("courier.assigned", { orderId: "o", courierId: "k", customerId: "c", etaMinutes: 9 })).toEqual([
			["courier_on_the_way", { kind: "user", userId: "c" }],
			["new_assignment", { kind: "user", userId: "k" }],
		]);
		expect(who("refund.processed", { customerId: "c", amountCents: 1 })[0][0]).toBe("refund_processed");
		expect(who("verification.rejected", { userId: "u", reason: "blurry" })[0]).toEqual([
			"verification_rejected",
			{ kind: "user", userId: "u" },
		]);
		expect(who("alert.escalated", { rule: "x", level: 2 })[0]).toEqual([
			"alert_escalated",
			{ kind: "role", role: "admin" },
		]);
		expect(who("product.updated", { supplierId: "s" })).toEqual([]);
	});

	it("tells the supplier about low stock only when stock goes down", () => {
		const low = { productId: "p", supplierId: "s", stock: 4, reserved: 1, lowStock: true, lowStockThreshold: 5 };
		const [msg] = plannedMessages({ type: "inventory.updated", data: { ...low, reason: "reserved" } }, opts);
		expect(msg.template).toBe("low_stock");
		expect(render("low_stock", "en", msg.vars).body).toContain("4 units of p left (threshold 5)");
		expect(plannedMessages({ type: "inventory.updated", data: { ...low, reason: "restocked" } }, opts)).toEqual([]);
		expect(
			plannedMessages({ type: "inventory.updated", data: { ...low, lowStock: false, reason: "reserved" } }, opts),
		).toEqual([]);
	});

	it("e-mails an invitee the registration link", () => {
		const [msg] = plannedMessages(
			{
				type: "invitation.created",
				data: { email: "x@example.com", role: "courier", code: "abc/123", expiresAt: "2030-01-08T00:00:00Z" },
			},
			opts,
		);
		expect(msg.recipient).toEqual({ kind: "address", email: "x@example.com", locale: "pt-BR" });
		expect(msg.channels).toEqual(["email"]);
		expect(msg.vars.link).toBe("https://gas.example/#/register?invite=abc%2F123");
		expect(render("invitation", "pt-BR", localizedVars(msg.vars, "pt-BR")).body).toContain("como entregador");
		expect(inviteLink("http://localhost:3000", "c")).toBe("http://localhost:3000/#/register?invite=c");
	});

	it("tells the customer each preparation stage of their order, in Portuguese and English", () => {
		const data = { orderId: "o-abcdef", customerId: "c", supplierId: "s", courierId: null, at: "t" };
		const [msg, ...rest] = plannedMessages({ type: "order.preparation", data: { ...data, stage: "preparing" } }, opts);
		expect(rest).toEqual([]);
		expect(msg).toMatchObject({
			template: "order_preparation",
			recipient: { kind: "user", userId: "c" },
			channels: ["inapp", "push"],
		});
		expect(render("order_preparation", "pt-BR", msg.vars).body).toBe("A revenda está preparando seu pedido #ABCDEF.");
		expect(render("order_preparation", "en", msg.vars).body).toBe("The supplier is preparing your order #ABCDEF.");
		const text = (stage: string, locale: string) => render("order_preparation", locale, { ref: "#X", stage }).subject;
		expect(text("accepted", "pt-BR")).toBe("Pedido #X aceito pela revenda");
		expect(text("ready", "en")).toBe("Order #X is ready");
		expect(text("something-new", "pt-BR")).toBe("Pedido #X em preparo");
		expect(NOTIFIED_EVENTS).toContain("order.preparation");
	});
});
