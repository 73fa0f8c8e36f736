/**
 * Developer commands for the Moleculer REPL (`npm run repl`, `npm run dev`), given to the broker as
 * `replCommands` in moleculer.config.ts:
 *   seed              demo data (lib/infra/seed.ts) through this node's broker and the gateway
 *   orders <status>   a table of the orders in that status (newest first, at most 50)
 *   order <id>        one order: state, history, payment, courier
 *   whoami <email>    a user's record without secrets
 *   replay [ref]      the dead letters (no ref), or re-publish one: `ref` is its alert id, the
 *                     dead-lettered event's id, or `<event id>:<consumer>`
 * Calls are made as an internal admin (meta.user), so they see every order; nothing is written
 * except by `seed` and `replay`. The formatting functions are pure and unit-tested.
 */
import type { ServiceBroker } from "moleculer";
import type { AuthUser } from "../domain/access";
import type { HistoryEntry } from "../domain/order-status";
import type { PublicUser } from "../contracts/users";
import { formatSeedSummary, seed } from "./seed";
import { seedOutput } from "./seed-progress";

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

const asAdmin = { meta: { user: REPL_ADMIN } };

/** A dead letter as the alerts service keeps it: an alert of rule dead_letter with the envelope. */
export interface DeadLetterRow {
	id: string;
	status: string;
	/** `dead_letter:<event id>:<consumer>` */
	key: string;
	replays?: number;
	details: {
		envelope?: { id: string; type: string; time?: string };
		consumer?: string;
		error?: unknown;
		failedAt?: string;
	};
}

/** The dead letter `ref` names: by its alert id, its event's id, or `<event id>:<consumer>` (its key without the rule). */
export function findDeadLetter(rows: DeadLetterRow[], ref: string): DeadLetterRow | null {
	const wanted = ref.trim();
	return (
		rows.find((r) => r.id === wanted) ??
		rows.find((r) => r.key === wanted || r.key === `dead_letter:${wanted}`) ??
		rows.find((r) => r.details.envelope?.id === wanted) ??
		null
	);
}

export function formatDeadLetters(rows: DeadLetterRow[]): string {
	if (!rows.length) return "No dead letters.";
	const table = textTable(
		["alert", "event", "type", "consumer", "failed (UTC)", "status", "replays", "error"],
		rows.map((r) => [
			r.id,
			r.details.envelope?.id ?? "-",
			r.details.envelope?.type ?? "-",
			r.details.consumer ?? "-",
			(r.details.failedAt ?? "").replace("T", " ").slice(0, 19),
			r.status,
			String(r.replays ?? 0),
			String(r.details.error ?? "").slice(0, 60),
		]),
	);
	return `${table}
${rows.length} dead letter(s). Replay one with: replay <alert or event id>`;
}

/** Every dead letter the alerts service holds, newest first (open ones and resolved ones). */
async function deadLetters(broker: ServiceBroker): Promise<DeadLetterRow[]> {
	const rows: DeadLetterRow[] = [];
	for (let page = 1; page <= 20; page++) {
		const found = await broker.call<{ rows: DeadLetterRow[] }, { rule: string; page: number; pageSize: number }>(
			"alerts.list",
			{ rule: "dead_letter", page, pageSize: 100 },
			asAdmin,
		);
		rows.push(...found.rows);
		if (found.rows.length < 100) break;
	}
	return rows;
}

/** Lists the dead letters, or re-publishes the one `ref` names to its topic (alerts.replay); the output line. */
export async function replayDeadLetter(broker: ServiceBroker, ref: string | undefined): Promise<string> {
	const rows = await deadLetters(broker);
	if (!ref) return formatDeadLetters(rows);
	const letter = findDeadLetter(rows, ref);
	if (!letter) return `No dead letter ${ref}. Type replay to list them.`;
	const replayed = await broker.call<{ replays?: number; replayedEventId: string }, { id: string }>(
		"alerts.replay",
		{ id: letter.id },
		asAdmin,
	);
	const type = letter.details.envelope?.type ?? "?";
	return `Replayed ${type} ${replayed.replayedEventId} to its topic (alert ${letter.id}, ${replayed.replays ?? 1} replay(s)); consumers that handled it already skip it.`;
}

/** A user without secrets: stored fields only, hashes and TOTP secrets never reach here (PublicUser). */
export function formatUser(user: PublicUser): string {
	const shown: Record<string, unknown> = { ...user };
	for (const k of ["passwordHash", "mfaSecret", "mfaPendingSecret"]) delete shown[k];
	return JSON.stringify(shown, null, 2);
}

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
				const output = seedOutput(process.stdout);
				const summary = await seed({ broker, gatewayUrl: gatewayUrl(), ...output }).finally(() => output.done());
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
		{
			command: "replay [deadLetter]",
			description:
				"Dead letters: without an argument a table of them; with an alert id, event id or <event id>:<consumer>, re-publish that event to its topic",
			async action(broker, args) {
				const ref = args.deadLetter === undefined || args.deadLetter === null ? undefined : String(args.deadLetter);
				print(await replayDeadLetter(broker, ref));
			},
		},
	];
}
