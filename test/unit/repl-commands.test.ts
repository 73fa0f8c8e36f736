/** The REPL commands' text output (lib/infra/repl-commands.ts): money, tables, an order, a user. */
import { brl, formatOrder, formatOrdersTable, formatUser, textTable } from "../../lib/infra/repl-commands";
import type { PublicUser } from "../../lib/contracts/users";

const order = {
	id: "o1",
	status: "delivered",
	createdAt: "2026-12-01T12:34:56.789Z",
	customerName: "Maria Oliveira",
	customerId: "c1",
	supplierName: "Gás Vila Mariana",
	supplierId: "s1",
	totalCents: 123456,
	paymentMethod: "card",
	paymentStatus: "captured",
	courierId: "k1",
	history: [
		{ status: "created" as const, at: "2026-12-01T12:34:56.789Z", by: "c1", role: "customer" as const },
		{
			status: "created" as const,
			at: "2026-12-01T12:35:00.000Z",
			by: "system",
			role: "system" as const,
			note: "courier assigned",
		},
		{
			status: "cancelled" as const,
			at: "2026-12-01T12:40:00.000Z",
			by: "s1",
			role: "supplier" as const,
			reason: "sem estoque",
		},
	],
};

test("brl formats integer cents as reais", () => {
	expect(brl(0)).toBe("R$ 0,00");
	expect(brl(11000)).toBe("R$ 110,00");
	expect(brl(123456789)).toBe("R$ 1.234.567,89");
	expect(brl(-5)).toBe("-R$ 0,05");
});

test("textTable pads columns to their widest cell", () => {
	expect(textTable(["a", "bb"], [["xxx", "y"]])).toBe("a    bb\n---  --\nxxx  y");
});

test("orders table: one row per order, a count, and a line for none", () => {
	const out = formatOrdersTable("delivered", [order], true);
	expect(out.split("\n")[2]).toMatch(
		/^o1 {2}2026-12-01 12:34:56 {2}Maria Oliveira {2}Gás Vila Mariana {2}R\$ 1\.234,56 {2}card captured {2}k1$/,
	);
	expect(out).toContain("1+ order(s) in status delivered.");
	expect(formatOrdersTable("created", [], false)).toBe("No orders in status created.");
});

test("an order with payment, courier and history", () => {
	const out = formatOrder(
		order,
		{ paymentId: "p1", status: "captured", method: "card", amountCents: 123456 },
		{
			id: "k1",
			status: "available",
			vehicle: { type: "motorcycle", plate: "GAS1000" },
			position: { lat: -23.5, lng: -46.6 },
		},
	);
	expect(out).toContain("payment   card captured R$ 1.234,56 (p1)");
	expect(out).toContain("courier   k1 available motorcycle GAS1000 at -23.5000,-46.6000");
	expect(out).toContain("2026-12-01T12:40:00.000Z  cancelled  by supplier s1 (sem estoque)");
	expect(out).toContain("2026-12-01T12:35:00.000Z  created    by system system — courier assigned");
	expect(formatOrder({ ...order, courierId: null }, null, null)).toMatch(
		/payment {3}none \(card\)[\s\S]*courier {3}none/,
	);
});

test("a user never shows a secret, even if one slipped into the record", () => {
	const user = {
		id: "u1",
		email: "a@b.c",
		name: "A",
		role: "customer",
		status: "active",
		passwordHash: "x",
		mfaSecret: "y",
	};
	const out = formatUser(user as unknown as PublicUser);
	expect(out).toContain('"email": "a@b.c"');
	expect(out).not.toMatch(/passwordHash|mfaSecret/);
});
