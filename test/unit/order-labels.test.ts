/** Order-history labels (lib/domain/order-labels.ts) in pt-BR (default) and English. */
import { historyLabel, labelledHistory } from "../../lib/domain/order-labels";
import { ORDER_STATUSES } from "../../lib/domain/order-status";

test("every status and the courier note have a label in both languages, and they differ", () => {
	for (const status of ORDER_STATUSES) {
		const pt = historyLabel({ status }, "pt-BR");
		const en = historyLabel({ status }, "en");
		expect(pt).not.toBe(status);
		expect(en).not.toBe(pt);
	}
	expect(historyLabel({ status: "confirmed", note: "courier assigned" }, "pt-BR")).toBe("Entregador designado");
	expect(historyLabel({ status: "confirmed", note: "courier assigned" }, "en")).toBe("Courier assigned");
});

test("labelledHistory keeps each entry and adds its label; anything but en reads Portuguese", () => {
	const history = [
		{ status: "created" as const, at: "t1", by: "c1", role: "customer" as const },
		{ status: "cancelled" as const, at: "t2", by: "c1", role: "customer" as const, reason: "x" },
	];
	expect(labelledHistory(history, "en")).toEqual([
		{ ...history[0], label: "Order placed" },
		{ ...history[1], label: "Cancelled" },
	]);
	expect(labelledHistory(history, undefined)!.map((h) => h.label)).toEqual(["Pedido feito", "Cancelado"]);
	expect(labelledHistory(undefined, "en")).toBeUndefined();
});
