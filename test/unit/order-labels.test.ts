/** Order-history labels (lib/domain/order-labels.ts) in pt-BR (default) and English. */
import { historyLabel, labelledHistory } from "../../lib/domain/order-labels";
import { ORDER_STATUSES } from "../../lib/domain/order-status";
import { PREPARATION_STAGES } from "../../lib/domain/preparation";

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

test("each preparation stage reads in both languages (the status stays confirmed)", () => {
	for (const stage of PREPARATION_STAGES) {
		const pt = historyLabel({ status: "confirmed", stage }, "pt-BR");
		expect(pt).not.toBe(historyLabel({ status: "confirmed" }, "pt-BR"));
		expect(historyLabel({ status: "confirmed", stage }, "en")).not.toBe(pt);
	}
	expect(historyLabel({ status: "confirmed", stage: "preparing" }, "pt-BR")).toBe("Em preparo");
	expect(historyLabel({ status: "confirmed", stage: "ready" }, "en")).toBe("Ready for the courier");
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
