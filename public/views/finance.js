/**
 * Money screens (issue 18): the supplier's statement ("Extrato": each delivered order split into
 * gross, the platform's commission, the courier's fee and the supplier's net, paid or not, with the
 * CSV the API makes, and its Gás do Povo redemptions to be reimbursed); the courier's earnings
 * ("Meus ganhos": its delivery fees); the admin's finance screen (a supplier's commission and its
 * Gás do Povo accreditation and redemptions, the payout run and the payouts made).
 *
 * The API does the sums (services/parts/analytics/ledger.mixin.ts, services/vouchers.service.ts):
 * the screens show its amounts with money() and never recompute a split.
 */
import { ApiError, download, get, post, put } from "../http.js";
import {
	dateTime,
	empty,
	errorLine,
	field,
	form,
	h,
	input,
	lang,
	money,
	replace,
	section,
	select,
	shortId,
	t,
} from "../ui.js";
import { listLoader, mfaHint, userInfo } from "./backoffice.js";

const orderLink = (orderId) => h("a", { href: `#/orders/${encodeURIComponent(orderId)}` }, shortId(orderId));
const locale = () => (lang() === "en" ? "en-GB" : "pt-BR");
const percentFormat = () => new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 2 });

/** 1250 basis points → "12,5%". */
export const bpsText = (bps) => (Number.isFinite(bps) ? percentFormat().format(bps / 10_000) : "—");

/** "12,5", "12.5" or "12,5 %" → 1250 basis points; NaN when it is not a number. */
export function percentToBps(text) {
	const clean = String(text).replace(/%/g, "").trim().replace(",", ".");
	if (!clean) return NaN;
	const value = Number(clean);
	return Number.isFinite(value) ? Math.round(value * 100) : NaN;
}

// ---- the period picker ----

const DAY_MS = 86_400_000;

function monthRange(offset) {
	const now = new Date();
	const from = new Date(now.getFullYear(), now.getMonth() + offset, 1);
	return { from, to: new Date(now.getFullYear(), now.getMonth() + offset + 1, 1) };
}

const monthName = (d) => d.toLocaleDateString(locale(), { month: "long", year: "numeric" });

function lastDays(days) {
	const now = new Date();
	const to = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1);
	return { from: new Date(to.getTime() - days * DAY_MS), to };
}

/**
 * A period (this month by default, the months before, the last 7 or 30 days, or two dates) as the
 * API's from/to (UTC ISO times of local midnights); onChange() runs when the user changes it.
 */
function periodPicker(prefix, onChange) {
	const months = [0, -1, -2].map((offset) => {
		const range = monthRange(offset);
		const name = monthName(range.from);
		return [`m${offset}`, offset === 0 ? t(`Este mês (${name})`, `This month (${name})`) : name, range];
	});
	const ranges = {
		...Object.fromEntries(months.map(([key, , range]) => [key, () => range])),
		d7: () => lastDays(7),
		d30: () => lastDays(30),
	};
	const choice = select(
		"period",
		[
			...months.map(([key, text]) => [key, text]),
			["d7", t("Últimos 7 dias", "Last 7 days")],
			["d30", t("Últimos 30 dias", "Last 30 days")],
			["custom", t("Escolher as datas", "Pick the dates")],
		],
		{ id: `${prefix}-period` },
	);
	const fromInput = input("from", { type: "date", id: `${prefix}-from` });
	const toInput = input("to", { type: "date", id: `${prefix}-to` });
	const custom = h(
		"div",
		{ class: "row", hidden: true },
		field(t("De", "From"), fromInput),
		field(t("Até (inclusive)", "To (inclusive)"), toInput),
	);
	choice.addEventListener("change", () => {
		custom.hidden = choice.value !== "custom";
		if (choice.value !== "custom" || (fromInput.value && toInput.value)) onChange();
	});
	for (const el of [fromInput, toInput])
		el.addEventListener("change", () => fromInput.value && toInput.value && onChange());
	const picker = {
		el: h("div", { class: "period" }, field(t("Período", "Period"), choice), custom),
		/** The range, or null after saying in `box` why there is none. */
		rangeOrSay(box) {
			try {
				return picker.range();
			} catch (err) {
				replace(box, errorLine(err));
				return null;
			}
		},
		/** { from, to } as ISO strings; throws a readable error when the dates are missing. */
		range() {
			if (choice.value === "custom") {
				if (!fromInput.value || !toInput.value)
					throw new Error(t("Escolha as duas datas do período.", "Pick both dates of the period."));
				const from = new Date(`${fromInput.value}T00:00:00`);
				const last = new Date(`${toInput.value}T00:00:00`);
				const to = new Date(last.getFullYear(), last.getMonth(), last.getDate() + 1);
				return { from: from.toISOString(), to: to.toISOString() };
			}
			const { from, to } = ranges[choice.value]();
			return { from: from.toISOString(), to: to.toISOString() };
		},
	};
	return picker;
}

/** A button that downloads the CSV at `target()` ([path, fallback file name, query]); problems said below it. */
function csvDownload(id, text, target) {
	const button = h("button", { type: "button", class: "secondary", id }, text);
	const problem = h("div", {});
	button.addEventListener("click", async () => {
		replace(problem);
		button.disabled = true;
		try {
			await download(...target());
		} catch (err) {
			replace(problem, errorLine(err));
		} finally {
			button.disabled = false;
		}
	});
	return [h("div", { class: "actions" }, button), problem];
}

const paidBadge = (payoutId) =>
	payoutId
		? h("span", { class: "badge badge-captured paid-state", dataset: { paid: "yes" } }, t("Pago", "Paid"))
		: h("span", { class: "badge badge-pending paid-state", dataset: { paid: "no" } }, t("A receber", "To be paid"));

const kindTag = (kind) =>
	kind === "reversal" ? h("span", { class: "badge badge-cancelled" }, t("Estorno", "Refund")) : null;

const facts = (attrs, pairs) =>
	h(
		"dl",
		{ class: "facts", ...attrs },
		pairs.filter(Boolean).map(([term, value, cls]) => [h("dt", {}, term), h("dd", { class: cls || null }, value)]),
	);

// ---- the supplier's statement and the courier's earnings ----

/** Supplier `#/statement`: its entries, totals, the CSV, and its Gás do Povo redemptions. */
export function statement(root, { user }) {
	return partyScreen(root, user, "supplier");
}

/** Courier `#/earnings`: its delivery fees, paid or not, and the CSV. */
export function earnings(root, { user }) {
	return partyScreen(root, user, "courier");
}

async function partyScreen(root, user, party) {
	const supplier = party === "supplier";
	const entriesBox = h("div", { id: "statement" });
	const redemptionsBox = h("div", { id: "redemptions" });
	const note = supplier ? h("p", { id: "supplier-notes" }) : null;
	const picker = periodPicker("statement", () => load());
	const csv = csvDownload("statement-csv", t("Baixar CSV", "Download CSV"), () => {
		const { from, to } = picker.range();
		return ["/api/ledger/statements", `${party}-statement.csv`, { party, from, to, format: "csv" }];
	});

	async function load() {
		const range = picker.rangeOrSay(entriesBox);
		if (!range) return;
		await Promise.all([
			get("/api/ledger/statements", { party, ...range })
				.then((s) => replace(entriesBox, supplier ? supplierStatement(s) : courierStatement(s)))
				.catch((err) => replace(entriesBox, errorLine(err))),
			supplier ? loadRedemptions(redemptionsBox, { ...range }, user.id) : null,
		]);
	}

	replace(
		root,
		section(
			supplier ? t("Extrato", "Statement") : t("Meus ganhos", "My earnings"),
			h(
				"p",
				{ class: "muted" },
				supplier
					? t(
							"Cada pedido entregue: o valor bruto, a comissão da plataforma, a taxa do entregador e o seu líquido.",
							"Each delivered order: the gross amount, the platform's commission, the courier's fee and your net.",
						)
					: t("Sua taxa por entrega feita e se ela já foi paga.", "Your fee per delivery and whether it was paid."),
			),
			note,
			picker.el,
			csv,
			entriesBox,
		),
		supplier
			? section(t("Gás do Povo: vales a reembolsar", "Gás do Povo: vouchers to be reimbursed"), redemptionsBox)
			: null,
	);
	if (supplier) supplierNotes(user.id, note);
	await load();
}

/** The supplier's commission rate and whether it takes the voucher, in words (best effort). */
function supplierNotes(supplierId, note) {
	const id = encodeURIComponent(supplierId);
	Promise.all([
		get(`/api/ledger/commissions/${id}`).catch(() => null),
		get(`/api/vouchers/accreditations/${id}`).catch(() => null),
	]).then(([rate, accreditation]) =>
		replace(
			note,
			rate
				? [t("Comissão da plataforma: ", "Platform commission: "), h("strong", {}, bpsText(rate.commissionBps)), ". "]
				: "",
			accreditation
				? accreditation.accredited
					? t(
							"Sua revenda é credenciada no Gás do Povo: os clientes podem pagar o P13 com o vale.",
							"Your business is accredited for Gás do Povo: customers may pay for a P13 with the voucher.",
						)
					: t(
							"Sua revenda não está credenciada no Gás do Povo. Fale com a plataforma.",
							"Your business is not accredited for Gás do Povo. Contact the platform.",
						)
				: "",
		),
	);
}

function statementTotals(s, supplier) {
	const tot = s.totals;
	return h(
		"div",
		{ class: "card inset", id: "statement-totals" },
		h("h3", {}, t("Totais do período", "Totals for the period")),
		facts(
			{},
			supplier
				? [
						[t("Lançamentos", "Entries"), String(tot.entries)],
						[t("Bruto", "Gross"), money(tot.grossCents), "total-gross"],
						[t("Comissão da plataforma", "Platform commission"), money(tot.commissionCents), "total-commission"],
						[t("Taxa de entrega", "Courier fee"), money(tot.courierFeeCents), "total-fee"],
						[t("Seu líquido", "Your net"), money(tot.supplierNetCents), "total-net"],
						[t("Já pago", "Already paid"), money(tot.paidCents), "total-paid"],
						[t("A receber", "To be paid"), money(tot.unpaidCents), "total-unpaid"],
					]
				: [
						[t("Entregas", "Deliveries"), String(tot.entries)],
						[t("Suas taxas", "Your fees"), money(tot.amountDueCents), "total-fee"],
						[t("Já pago", "Already paid"), money(tot.paidCents), "total-paid"],
						[t("A receber", "To be paid"), money(tot.unpaidCents), "total-unpaid"],
					],
		),
		supplier
			? h(
					"p",
					{ class: s.balanced ? "muted" : "form-error", id: "statement-balance" },
					s.balanced
						? t(
								"Bruto = comissão + taxa de entrega + líquido, ao centavo.",
								"Gross = commission + courier fee + net, to the cent.",
							)
						: t(
								"Atenção: os totais não fecham. Fale com a plataforma.",
								"Warning: the totals do not balance. Contact the platform.",
							),
				)
			: null,
	);
}

/**
 * A responsive table (one card per row on a phone, public/responsive.js): `columns` are
 * [heading, cell(row), cell class?]; `rowAttrs(row)` gives each row's attributes.
 */
function dataTable(attrs, columns, rows, rowAttrs) {
	return h(
		"table",
		{ class: "table", ...attrs },
		h(
			"thead",
			{},
			h(
				"tr",
				{},
				columns.map(([heading]) => h("th", {}, heading)),
			),
		),
		h(
			"tbody",
			{},
			rows.map((r) =>
				h(
					"tr",
					rowAttrs(r),
					columns.map(([, cell, cls]) => h("td", { class: cls || null }, cell(r))),
				),
			),
		),
	);
}

const entryAttrs = (r) => ({ class: "entry", dataset: { orderId: r.orderId, kind: r.kind } });
const orderCell = [t("Pedido", "Order"), (r) => [orderLink(r.orderId), " ", kindTag(r.kind)]];
const dateCell = [t("Data", "Date"), (r) => dateTime(r.at)];
const paidCell = [t("Situação", "Status"), (r) => paidBadge(r.payoutId)];
const distance = (value) =>
	Number.isFinite(value) ? `${value.toLocaleString(locale(), { maximumFractionDigits: 1 })} km` : "—";

function supplierStatement(s) {
	return [
		statementTotals(s, true),
		s.rows.length
			? dataTable(
					{ id: "statement-table" },
					[
						orderCell,
						dateCell,
						[t("Bruto", "Gross"), (r) => money(r.grossCents), "gross"],
						[t("Comissão", "Commission"), (r) => money(r.commissionCents), "commission"],
						[t("Taxa de entrega", "Courier fee"), (r) => money(r.courierFeeCents), "fee"],
						[t("Líquido", "Net"), (r) => money(r.supplierNetCents), "net"],
						paidCell,
					],
					s.rows,
					entryAttrs,
				)
			: empty(t("Nenhum pedido entregue no período.", "No delivered orders in this period.")),
	];
}

function courierStatement(s) {
	return [
		statementTotals(s, false),
		s.rows.length
			? dataTable(
					{ id: "statement-table" },
					[
						orderCell,
						dateCell,
						[t("Distância", "Distance"), (r) => distance(r.distanceKm)],
						[t("Sua taxa", "Your fee"), (r) => money(r.amountDueCents), "fee"],
						paidCell,
					],
					s.rows,
					entryAttrs,
				)
			: empty(t("Nenhuma entrega no período.", "No deliveries in this period.")),
	];
}

// ---- Gás do Povo redemptions ----

const VOUCHER_STATUS = { redeemed: ["Resgatado", "Redeemed"], released: ["Liberado", "Released"] };
const voucherBadge = (status) =>
	h(
		"span",
		{ class: `badge ${status === "redeemed" ? "badge-captured" : "badge-cancelled"}` },
		VOUCHER_STATUS[status] ? t(...VOUCHER_STATUS[status]) : status,
	);

/** The redemption report (GET /api/vouchers/redemptions) of a period; `supplierId` only for an admin. */
async function loadRedemptions(box, range, supplierId, asAdmin = false) {
	const params = { ...range, ...(asAdmin ? { supplierId } : {}) };
	const csv = csvDownload("redemptions-csv", t("Baixar CSV do Gás do Povo", "Download the Gás do Povo CSV"), () => [
		"/api/vouchers/redemptions",
		"gas-do-povo.csv",
		{ ...params, format: "csv" },
	]);
	try {
		const report = await get("/api/vouchers/redemptions", params);
		replace(
			box,
			facts({ id: "redemption-totals" }, [
				[t("Vales resgatados", "Vouchers redeemed"), String(report.totals.redeemed)],
				[t("Liberados (pedido cancelado)", "Released (order cancelled)"), String(report.totals.released)],
				[t("A reembolsar", "To be reimbursed"), money(report.totals.reimbursableCents), "total-reimbursable"],
			]),
			report.rows.length
				? dataTable(
						{ id: "redemptions-table" },
						[
							[t("Data", "Date"), (r) => dateTime(r.redeemedAt)],
							[t("Pedido", "Order"), (r) => (r.orderId ? orderLink(r.orderId) : "—")],
							[t("Vale", "Voucher"), (r) => h("code", {}, r.code)],
							["CPF", (r) => r.cpfMasked],
							[t("Situação", "Status"), (r) => voucherBadge(r.status)],
							[t("Valor", "Amount"), (r) => money(r.amountCents), "amount"],
						],
						report.rows,
						(r) => ({ class: "redemption", dataset: { orderId: r.orderId || "", status: r.status } }),
					)
				: empty(t("Nenhum vale do Gás do Povo no período.", "No Gás do Povo vouchers in this period.")),
			report.rows.length ? csv : null,
		);
	} catch (err) {
		replace(box, errorLine(err));
	}
}

// ---- the admin's finance screen ----

const PARTY_TEXT = { supplier: ["Revendas", "Suppliers"], courier: ["Entregadores", "Couriers"] };
const partyText = (party) => (PARTY_TEXT[party] ? t(...PARTY_TEXT[party]) : party);
const RUN_STATUS = { completed: ["Concluído", "Completed"], running: ["Em andamento", "Running"] };

/** Admin `#/admin/finance` (`?supplier=<id>` opens that supplier). */
export async function admin(root, { query: routeQuery }) {
	const supplierBox = h("div", { id: "supplier-finance" });
	const payoutsBox = h("div", { id: "payouts-list" });
	const found = await get("/api/users", { role: "supplier", pageSize: 100 }).catch(() => ({ rows: [] }));
	const options = found.rows.map((u) => [u.id, (u.supplierProfile && u.supplierProfile.businessName) || u.name]);
	const wanted = routeQuery.supplier;
	if (wanted && !options.some(([id]) => id === wanted)) {
		const info = await userInfo(wanted);
		options.unshift([wanted, info ? info.businessName || info.name : wanted]);
	}
	const supplierSelect = select("supplier", [["", t("Escolha a revenda", "Choose the supplier")], ...options], {
		id: "finance-supplier",
		value: wanted || "",
	});
	supplierSelect.addEventListener("change", () => {
		history.replaceState(
			null,
			"",
			supplierSelect.value ? `#/admin/finance?supplier=${encodeURIComponent(supplierSelect.value)}` : "#/admin/finance",
		);
		showSupplier(supplierBox, supplierSelect.value);
	});
	const loadPayouts = listLoader(
		payoutsBox,
		() => get("/api/ledger/payouts", { pageSize: 20 }),
		payoutCard,
		t("Nenhum repasse feito ainda.", "No payouts yet."),
	);
	replace(
		root,
		section(t("Financeiro", "Finance"), field(t("Revenda", "Supplier"), supplierSelect), supplierBox),
		section(t("Repasses", "Payouts"), payoutRun(loadPayouts)),
		section(t("Repasses feitos", "Payouts made"), payoutsBox),
	);
	await Promise.all([showSupplier(supplierBox, supplierSelect.value), loadPayouts()]);
}

async function showSupplier(box, supplierId) {
	if (!supplierId) {
		replace(
			box,
			empty(
				t(
					"Escolha uma revenda para ver a comissão e o Gás do Povo.",
					"Choose a supplier to see its commission and Gás do Povo.",
				),
			),
		);
		return;
	}
	const id = encodeURIComponent(supplierId);
	const redemptionsBox = h("div", { id: "redemptions" });
	const picker = periodPicker("redemptions", () => loadReport());
	const loadReport = async () => {
		const range = picker.rangeOrSay(redemptionsBox);
		if (range) await loadRedemptions(redemptionsBox, range, supplierId, true);
	};
	try {
		const [rate, accreditation] = await Promise.all([
			get(`/api/ledger/commissions/${id}`),
			get(`/api/vouchers/accreditations/${id}`),
		]);
		replace(
			box,
			commissionCard(supplierId, rate),
			accreditationCard(supplierId, accreditation.accredited),
			h(
				"div",
				{ class: "card inset" },
				h("h3", {}, t("Gás do Povo: vales a reembolsar", "Gás do Povo: vouchers to be reimbursed")),
				picker.el,
				redemptionsBox,
			),
		);
	} catch (err) {
		replace(box, errorLine(err));
		return;
	}
	await loadReport();
}

function commissionCard(supplierId, initial) {
	const card = h("div", { class: "card inset", id: "commission" });
	const paint = (rate, saved) => {
		const current = h(
			"p",
			{ id: "commission-current" },
			t("Comissão atual: ", "Current commission: "),
			h("strong", {}, bpsText(rate.commissionBps)),
			rate.isDefault
				? t(" (padrão da plataforma)", " (the platform's default)")
				: [t(" · definida em ", " · set on "), dateTime(rate.updatedAt)],
		);
		const percent = input("commissionPercent", {
			inputmode: "decimal",
			autocomplete: "off",
			value: rate.isDefault ? "" : String(rate.commissionBps / 100).replace(".", lang() === "en" ? "." : ","),
			placeholder: t("ex.: 12,5", "e.g. 12.5"),
		});
		const reset = rate.isDefault
			? null
			: h(
					"button",
					{ type: "button", class: "secondary", id: "commission-default" },
					t("Voltar ao padrão", "Back to the default"),
				);
		const commissionForm = form(
			{ id: "commission-form" },
			[
				field(
					t("Nova comissão (%)", "New commission (%)"),
					percent,
					t("Vale para os pedidos entregues daqui em diante.", "Applies to orders delivered from now on."),
				),
				h("div", { class: "actions" }, h("button", { type: "submit" }, t("Salvar comissão", "Save commission")), reset),
			],
			async (values) => {
				const bps = percentToBps(values.commissionPercent);
				if (!Number.isFinite(bps))
					throw new ApiError(422, {
						message: t(
							"Digite a comissão em porcentagem, por exemplo 12,5.",
							"Type the commission as a percent, e.g. 12.5.",
						),
						data: { fields: [{ field: "commissionPercent" }] },
					});
				await save(bps);
			},
		);
		const save = async (commissionBps) => {
			try {
				const next = await put(`/api/ledger/commissions/${encodeURIComponent(supplierId)}`, { commissionBps });
				paint(next, true);
			} catch (err) {
				throw commissionError(mfaHint(err));
			}
		};
		if (reset)
			reset.addEventListener("click", async () => {
				reset.disabled = true;
				try {
					await save(null);
				} catch (err) {
					commissionForm.append(errorLine(err));
					reset.disabled = false;
				}
			});
		replace(
			card,
			h("h3", {}, t("Comissão da plataforma", "Platform commission")),
			current,
			saved
				? h(
						"p",
						{ class: "success", id: "commission-saved", role: "status" },
						t("Comissão salva: ", "Commission saved: "),
						bpsText(rate.commissionBps),
					)
				: null,
			commissionForm,
		);
	};
	paint(initial, false);
	return card;
}

/** The API's field problem on commissionBps, said beside the percent input and in percent. */
function commissionError(err) {
	if (!(err instanceof ApiError)) return err;
	err.fields = err.fields.map((p) => {
		if (p.field !== "commissionBps") return p;
		const limit = /(-?\d+)\D*$/.exec(p.message || "");
		let message = p.message;
		if (limit && p.type === "numberMax")
			message = t(
				`A comissão pode ser no máximo ${bpsText(Number(limit[1]))}.`,
				`The commission may be at most ${bpsText(Number(limit[1]))}.`,
			);
		else if (limit && p.type === "numberMin")
			message = t(
				`A comissão deve ser no mínimo ${bpsText(Number(limit[1]))}.`,
				`The commission must be at least ${bpsText(Number(limit[1]))}.`,
			);
		return { ...p, field: "commissionPercent", message };
	});
	return err;
}

function accreditationCard(supplierId, accredited) {
	const toggle = h("input", { type: "checkbox", id: "accredited", checked: accredited });
	const state = h("p", { id: "accreditation-state", role: "status" });
	const messages = h("div", {});
	const paint = (on) =>
		replace(
			state,
			on
				? t(
						"Credenciada: os clientes podem pagar o P13 com o vale.",
						"Accredited: customers may pay for a P13 with the voucher.",
					)
				: t("Não credenciada: a revenda não aceita o vale.", "Not accredited: the supplier does not take the voucher."),
		);
	paint(accredited);
	toggle.addEventListener("change", async () => {
		const wanted = toggle.checked;
		toggle.disabled = true;
		replace(messages);
		try {
			const res = await put(`/api/vouchers/accreditations/${encodeURIComponent(supplierId)}`, { accredited: wanted });
			toggle.checked = res.accredited;
			paint(res.accredited);
		} catch (err) {
			toggle.checked = !wanted;
			messages.append(errorLine(mfaHint(err)));
		} finally {
			toggle.disabled = false;
		}
	});
	return h(
		"div",
		{ class: "card inset", id: "accreditation" },
		h("h3", {}, "Gás do Povo"),
		h(
			"label",
			{ class: "check" },
			toggle,
			t("Revenda credenciada no Gás do Povo", "Supplier accredited for Gás do Povo"),
		),
		state,
		messages,
	);
}

/** The payout run: pays every open entry of one kind of payee, once; shows what it paid. */
function payoutRun(onDone) {
	const party = select(
		"party",
		[
			["supplier", t("Revendas (líquido das vendas)", "Suppliers (net of sales)")],
			["courier", t("Entregadores (taxas de entrega)", "Couriers (delivery fees)")],
		],
		{ id: "payout-party" },
	);
	const button = h(
		"button",
		{ type: "button", id: "payout-run" },
		t("Pagar lançamentos em aberto", "Pay open entries"),
	);
	const result = h("div", { id: "payout-result", "aria-live": "polite" });
	// A run id kept until the server answers: a retry after a lost answer resumes the same run.
	let pending = null;
	button.addEventListener("click", async () => {
		const who = party.value;
		const question = t(
			`Pagar agora todos os lançamentos em aberto de ${partyText(who).toLowerCase()}? Cada lançamento é pago uma única vez.`,
			`Pay every open entry of ${partyText(who).toLowerCase()} now? Each entry is paid once only.`,
		);
		if (!confirm(question)) return;
		if (!pending || pending.party !== who)
			pending = {
				party: who,
				runId: `web-${who}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
			};
		button.disabled = true;
		replace(result, h("p", { class: "muted" }, t("Pagando…", "Paying…")));
		try {
			const run = await post("/api/ledger/payouts", pending);
			pending = null;
			replace(result, await runSummary(run));
			await onDone();
		} catch (err) {
			if (err instanceof ApiError) pending = null;
			replace(result, errorLine(mfaHint(err)));
		} finally {
			button.disabled = false;
		}
	});
	return [
		h(
			"p",
			{ class: "muted" },
			t(
				"Marca como pagos todos os lançamentos ainda não pagos até agora e mostra quanto cada um recebe.",
				"Marks every entry not yet paid as paid, up to now, and shows what each payee gets.",
			),
		),
		field(t("Quem recebe", "Who is paid"), party),
		h("div", { class: "actions" }, button),
		result,
	];
}

async function payeeName(partyId) {
	const info = await userInfo(partyId);
	return info ? info.businessName || info.name : shortId(partyId);
}

async function runSummary(run) {
	if (!run.entries)
		return h(
			"p",
			{ class: "success", id: "payout-nothing" },
			t("Nada a pagar: todos os lançamentos já foram pagos.", "Nothing to pay: every entry was already paid."),
		);
	const names = await Promise.all(run.lines.map((l) => payeeName(l.partyId)));
	return [
		h(
			"p",
			{ class: "success", id: "payout-done" },
			run.alreadyRun
				? t("Este repasse já tinha sido feito: ", "This payout had already run: ")
				: t("Repasse feito: ", "Payout done: "),
			t(`${run.entries} lançamento(s), total `, `${run.entries} entr${run.entries === 1 ? "y" : "ies"}, total `),
			h("strong", {}, money(run.totalCents)),
			".",
		),
		payoutLines(run.lines, names),
	];
}

function payoutLines(lines, names) {
	return dataTable(
		{ class: "table payout-lines" },
		[
			[t("Quem recebe", "Payee"), (l) => names[lines.indexOf(l)]],
			[t("Lançamentos", "Entries"), (l) => String(l.entries)],
			[t("Valor", "Amount"), (l) => money(l.amountCents), "amount"],
		],
		lines,
		(l) => ({ class: "payout-line", dataset: { partyId: l.partyId } }),
	);
}

/** A run left running (the server stopped during it) is resumed with its own id: what it paid stays paid once. */
function resumeButton(run, onDone, box) {
	const button = h("button", { type: "button", class: "resume-payout" }, t("Retomar repasse", "Resume the payout"));
	button.addEventListener("click", async () => {
		if (!confirm(t("Retomar este repasse?", "Resume this payout?"))) return;
		button.disabled = true;
		try {
			await post("/api/ledger/payouts", { party: run.party, runId: run.id });
			await onDone();
		} catch (err) {
			replace(box, errorLine(mfaHint(err)));
			button.disabled = false;
		}
	});
	return button;
}

function payoutCard(run, onDone) {
	const linesBox = h("div", {});
	const details = h("div", {});
	const who = h("span", {});
	payeeName(run.requestedBy).then((name) => replace(who, name));
	if (run.lines.length)
		Promise.all(run.lines.map((l) => payeeName(l.partyId))).then((names) =>
			replace(linesBox, payoutLines(run.lines, names)),
		);
	const more = h(
		"button",
		{ type: "button", class: "secondary payout-details" },
		t("Ver lançamentos pagos", "See the entries paid"),
	);
	more.addEventListener("click", async () => {
		more.disabled = true;
		try {
			const full = await get(`/api/ledger/payouts/${encodeURIComponent(run.id)}`);
			replace(
				details,
				full.entryIds.length
					? h(
							"ul",
							{ class: "history payout-entries" },
							full.entryIds.map((entryId) => {
								const [kind, ref] = entryId.split(":");
								return h(
									"li",
									{},
									kind === "sale"
										? [t("Venda do pedido ", "Sale of order "), orderLink(ref)]
										: [t("Estorno ", "Refund "), h("code", {}, ref || entryId)],
								);
							}),
						)
					: empty(t("Nenhum lançamento neste repasse.", "No entries in this payout.")),
			);
			more.hidden = true;
		} catch (err) {
			replace(details, errorLine(err));
			more.disabled = false;
		}
	});
	const status = RUN_STATUS[run.status];
	return h(
		"article",
		{ class: "card inset payout-card", dataset: { runId: run.id, party: run.party } },
		h(
			"div",
			{ class: "offer-head" },
			h("h3", {}, money(run.totalCents), " · ", partyText(run.party)),
			h(
				"span",
				{ class: `badge ${run.status === "completed" ? "badge-captured" : "badge-pending"}` },
				status ? t(...status) : run.status,
			),
		),
		h(
			"p",
			{},
			dateTime(run.completedAt || run.startedAt),
			" · ",
			t(`${run.entries} lançamento(s)`, `${run.entries} entr${run.entries === 1 ? "y" : "ies"}`),
			" · ",
			t("por ", "by "),
			who,
		),
		linesBox,
		run.entryCount || run.status === "running"
			? h(
					"div",
					{ class: "actions" },
					run.entryCount ? more : null,
					run.status === "running" ? resumeButton(run, onDone, details) : null,
				)
			: null,
		details,
	);
}
