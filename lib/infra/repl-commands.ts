/**
 * Developer commands for the Moleculer REPL (`npm run repl`, `npm run dev`), given to the broker as
 * `replCommands` in moleculer.config.ts:
 *   seed              demo data (lib/infra/seed.ts) through this node's broker and the gateway
 *   orders <status>   a table of the orders in that status (newest first, at most 50)
 *   order <id>        one order: state, history, payment, courier
 *   whoami <email>    a user's record without secrets
 * Calls are made as an internal admin (meta.user), so they see every order; nothing is written
 * except by `seed`. The formatting functions are pure and unit-tested.
 */
import type { ServiceBroker } from "moleculer";
import type { AuthUser } from "../domain/access";
import type { HistoryEntry } from "../domain/order-status";
import type { PublicUser } from "../contracts/users";
import { formatSeedSummary, seed } from "./seed";

/** moleculer-repl's custom command definition (its package has no typings). */
export interface ReplCommand {
	command: string;
	description: string;
	alias?: string[];
	action(broker: ServiceBroker, args: Record<string, unknown>): Promise<void>;
}

/** Who the REPL's calls are made as: an admin that is not a stored user. */
export const REPL_ADMIN: AuthUser = {
	id: "repl",
	role: "admin",
	status: "active",
	mfa: true,
	mfaEnabled: true,
	supplierId: null,
};

export interface OrderRow {
	id: string;
	status: string;
	createdAt: string;
	customerName?: string | null;
	customerId: string;
	supplierName?: string | null;
	supplierId: string;
	totalCents: number;
	paymentMethod?: string;
	paymentStatus?: string;
	courierId?: string | null;
	history?: HistoryEntry[];
}

export interface PaymentRow {
	paymentId: string;
	status: string;
	method: string;
	amountCents: number;
}

export interface CourierRow {
	id: string;
	status: string;
	vehicle?: { type: string; plate: string };
	position?: { lat: number; lng: number; at?: string } | null;
}

/** 12345 → "R$ 123,45" */
export function brl(cents: number): string {
	const sign = cents < 0 ? "-" : "";
	const abs = Math.abs(cents);
	const reais = Math.floor(abs / 100)
		.toString()
		.replace(/\B(?=(\d{3})+(?!\d))/g, ".");
	return `${sign}R$ ${reais},${String(abs % 100).padStart(2, "0")}`;
}

/** A plain text table: a header row, a rule, rows; columns as wide as their widest cell. */
export function textTable(header: string[], rows: string[][]): string {
	const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] || "").length)));
	const line = (cells: string[]) =>
		cells
			.map((c, i) => (c || "").padEnd(widths[i]))
			.join("  ")
			.trimEnd();
	return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

export function formatOrdersTable(status: string, orders: OrderRow[], more: boolean): string {
	if (!orders.length) return `No orders in status ${status}.`;
	const table = textTable(
		["id", "created (UTC)", "customer", "supplier", "total", "payment", "courier"],
		orders.map((o) => [
			o.id,
			o.createdAt.replace("T", " ").slice(0, 19),
			o.customerName || o.customerId,
			o.supplierName || o.supplierId,
			brl(o.totalCents),
			[o.paymentMethod, o.paymentStatus].filter(Boolean).join(" "),
			o.courierId || "-",
		]),
	);
	return `${table}\n${orders.length}${more ? "+" : ""} order(s) in status ${status}.`;
}

export function formatOrder(order: OrderRow, payment: PaymentRow | null, courier: CourierRow | null): string {
	const lines = [
		`Order ${order.id}: ${order.status}`,
		`  customer  ${order.customerName || "-"} (${order.customerId})`,
		`  supplier  ${order.supplierName || "-"} (${order.supplierId})`,
		`  total     ${brl(order.totalCents)}`,
		payment
			? `  payment   ${payment.method} ${payment.status} ${brl(payment.amountCents)} (${payment.paymentId})`
			: `  payment   none${order.paymentMethod ? ` (${order.paymentMethod})` : ""}`,
	];
	if (!order.courierId) lines.push("  courier   none");
	else if (!courier) lines.push(`  courier   ${order.courierId} (no profile)`);
	else {
		const at = courier.position ? ` at ${courier.position.lat.toFixed(4)},${courier.position.lng.toFixed(4)}` : "";
		const vehicle = courier.vehicle ? ` ${courier.vehicle.type} ${courier.vehicle.plate}` : "";
		lines.push(`  courier   ${courier.id} ${courier.status}${vehicle}${at}`);
	}
	lines.push("  history");
	for (const h of order.history || [])
		lines.push(
			`    ${h.at}  ${h.status.padEnd(10)} by ${h.role} ${h.by}${h.reason ? ` (${h.reason})` : ""}${h.note ? ` — ${h.note}` : ""}`,
		);
	return lines.join("\n");
}

/** A user without secrets: stored fields only, hashes and TOTP secrets never reach here (PublicUser). */
export function formatUser(user: PublicUser): string {
	const shown: Record<string, unknown> = { ...user };
	for (const k of ["passwordHash", "mfaSecret", "mfaPendingSecret"]) delete shown[k];
	return JSON.stringify(shown, null, 2);
}

const asAdmin = { meta: { user: REPL_ADMIN } };

async function findUserByEmail(broker: ServiceBroker, email: string): Promise<PublicUser | null> {
	const wanted = email.trim().toLowerCase();
	for (let page = 1; page < 1000; page++) {
		const found = await broker.call<{ rows: PublicUser[]; totalPages?: number }, { page: number; pageSize: number }>(
			"users.list",
			{ page, pageSize: 100 },
			asAdmin,
		);
		const hit = found.rows.find((u) => u.email === wanted);
		if (hit) return hit;
		if (found.rows.length < 100) return null;
	}
	return null;
}

function gatewayUrl(): string {
	return process.env.GATEWAY_URL || `http://127.0.0.1:${process.env.PORT || "3000"}`;
}

function print(text: string): void {
	process.stdout.write(text + "\n");
}

export function replCommands(): ReplCommand[] {
	return [
		{
			command: "seed",
			description: "Fill the platform with São Paulo demo data (idempotent; GATEWAY_URL or this node's PORT)",
			async action(broker) {
				const summary = await seed({ broker, gatewayUrl: gatewayUrl(), log: print });
				print(formatSeedSummary(summary));
			},
		},
		{
			command: "orders <status>",
			description: "A table of the orders in a status (created, confirmed, in_transit, delivered, cancelled)",
			async action(broker, args) {
				const status = String(args.status);
				const page = await broker.call<
					{ rows: OrderRow[]; next?: string | null },
					{ status: string; pageSize: number }
				>("orders.list", { status, pageSize: 50 }, asAdmin);
				print(formatOrdersTable(status, page.rows, !!page.next));
			},
		},
		{
			command: "order <id>",
			description: "One order: state, history, payment and courier",
			async action(broker, args) {
				const id = String(args.id);
				const order = await broker.call<OrderRow, { id: string }>("orders.get", { id }, asAdmin);
				const payment = await broker
					.call<PaymentRow | null, { orderId: string }>("payments.forOrder", { orderId: id }, asAdmin)
					.catch(() => null);
				const courier = order.courierId
					? await broker
							.call<CourierRow, { id: string }>("couriers.get", { id: order.courierId }, asAdmin)
							.catch(() => null)
					: null;
				print(formatOrder(order, payment, courier));
			},
		},
		{
			command: "whoami <email>",
			description: "A user's record (without password hash or MFA secrets)",
			async action(broker, args) {
				const user = await findUserByEmail(broker, String(args.email));
				print(user ? formatUser(user) : `No user with e-mail ${String(args.email)}.`);
			},
		},
	];
}
