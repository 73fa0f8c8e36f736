/** Admin screens: the document review queue, alerts, metrics (also for suppliers: their own) and notices to users. */
import { download, get, post, put } from "../http.js";
import {
	badge,
	dateTime,
	empty,
	errorLine,
	field,
	form,
	h,
	input,
	money,
	replace,
	roleText,
	section,
	select,
	t,
} from "../ui.js";
import { DOCUMENT_TEXT } from "./verification.js";
import { alertWords, documentFacts, documentPreview, listLoader, ruleText, userInfo, userLine } from "./backoffice.js";

export async function reviewQueue(root) {
	const listBox = h("div", { id: "review-queue" });
	const load = async () => {
		try {
			const res = await get("/api/verification/status", { queue: "true", pageSize: 50 });
			replace(
				listBox,
				res.rows.length
					? res.rows.map((d) => reviewCard(d, load))
					: empty(t("Nenhum documento aguardando análise.", "No documents waiting for review.")),
			);
		} catch (err) {
			replace(listBox, errorLine(err));
		}
	};
	replace(root, section(t("Documentos para analisar", "Documents to review"), listBox));
	await load();
}

function reviewCard(d, reload) {
	const messages = h("div", {});
	const who = h("p", { class: "who-line" }, h("code", {}, d.userId));
	userInfo(d.userId).then((info) => replace(who, userLine(info, d.userId)));
	const review = async (body) => {
		await put(`/api/verification/documents/${encodeURIComponent(d.id)}/review`, body);
		await reload();
	};
	return h(
		"article",
		{ class: "card inset", dataset: { documentId: d.id } },
		h("h3", {}, DOCUMENT_TEXT[d.type] || d.type, " · ", roleText(d.role)),
		who,
		h(
			"p",
			{ class: "muted" },
			`${d.fileName || ""} · ${Math.ceil((d.size || 0) / 1024)} KB · ${t("enviado em", "sent on")} ${dateTime(d.uploadedAt)}`,
		),
		documentFacts(d.type, d.metadata),
		documentPreview(d.id),
		h(
			"div",
			{ class: "actions" },
			h(
				"button",
				{
					type: "button",
					class: "secondary",
					onclick: () =>
						download(`/api/verification/documents/${encodeURIComponent(d.id)}/file`, `${d.type}-${d.id}`).catch((err) =>
							messages.append(errorLine(err)),
						),
				},
				t("Baixar arquivo", "Download file"),
			),
			form({ class: "inline approve-form" }, [h("button", { type: "submit" }, t("Aprovar", "Approve"))], () =>
				review({ decision: "approve" }),
			),
			form(
				{ class: "inline reject-form" },
				[
					field(
						t("Motivo da rejeição", "Reason for rejection"),
						input("reason", { required: true, minlength: 3, maxlength: 500 }),
					),
					h("button", { type: "submit", class: "danger" }, t("Rejeitar", "Reject")),
				],
				(values) => review({ decision: "reject", reason: values.reason }),
			),
		),
		messages,
	);
}

export async function alerts(root) {
	const listBox = h("div", { id: "alerts-list" });
	const statusFilter = select("status", [
		["open", t("Abertos", "Open")],
		["resolved", t("Resolvidos", "Resolved")],
		["", t("Todos", "All")],
	]);
	const load = listLoader(
		listBox,
		() => get("/api/alerts", { status: statusFilter.value, pageSize: 50 }),
		alertCard,
		t("Nenhum alerta.", "No alerts."),
	);
	statusFilter.addEventListener("change", load);
	replace(root, section(t("Alertas", "Alerts"), field(t("Situação", "Status"), statusFilter), listBox));
	await load();
	const timer = setInterval(load, 20_000);
	return () => clearInterval(timer);
}

const SEVERITY_TEXT = {
	critical: ["crítico", "critical"],
	warning: ["atenção", "warning"],
	info: ["informativo", "info"],
};

function alertCard(a, reload) {
	const words = h("p", { class: "alert-words" }, a.summary);
	alertWords(a).then((el) => words.replaceWith(el));
	return h(
		"article",
		{ class: `card inset alert-${a.severity}`, dataset: { alertId: a.id } },
		h("div", { class: "offer-head" }, h("h3", {}, ruleText(a.rule)), badge(a.status)),
		words,
		h(
			"p",
			{ class: "muted" },
			`${SEVERITY_TEXT[a.severity] ? t(...SEVERITY_TEXT[a.severity]) : a.severity} · ${t("nível", "level")} ${a.level} · ${a.occurrences}× · ${t("desde", "since")} ${dateTime(a.createdAt)}`,
		),
		a.status === "open"
			? form(
					{ class: "inline resolve-form" },
					[
						field(t("Nota de resolução", "Resolution note"), input("note", { required: true, maxlength: 1000 })),
						h("button", { type: "submit" }, t("Resolver", "Resolve")),
					],
					async (values) => {
						await put(`/api/alerts/${encodeURIComponent(a.id)}/resolve`, { note: values.note });
						await reload();
					},
				)
			: h("p", {}, t("Resolvido: ", "Resolved: "), a.note || ""),
	);
}

const PERIODS = {
	day: {
		granularity: "hour",
		ms: 24 * 3_600_000,
		text: () => t("Últimas 24 horas (por hora)", "Last 24 hours (hourly)"),
	},
	week: { granularity: "day", ms: 7 * 86_400_000, text: () => t("Últimos 7 dias (por dia)", "Last 7 days (daily)") },
	month: {
		granularity: "day",
		ms: 30 * 86_400_000,
		text: () => t("Últimos 30 dias (por dia)", "Last 30 days (daily)"),
	},
};

export async function metrics(root) {
	const tableBox = h("div", { id: "metrics-table" });
	const period = select(
		"period",
		Object.entries(PERIODS).map(([k, p]) => [k, p.text()]),
	);
	const load = async () => {
		const p = PERIODS[period.value];
		const to = new Date(Date.now() + 1000);
		try {
			const res = await get("/api/analytics/metrics", {
				granularity: p.granularity,
				from: new Date(to.getTime() - p.ms).toISOString(),
				to: to.toISOString(),
			});
			replace(tableBox, metricsTable(res));
		} catch (err) {
			replace(tableBox, errorLine(err));
		}
	};
	period.addEventListener("change", load);
	replace(
		root,
		section(t("Métricas", "Metrics"), field(t("Período", "Period"), period), tableBox),
		section(t("Relatórios", "Reports"), reportForm()),
	);
	await load();
}

const COLUMNS = [
	[t("Pedidos", "Orders"), (f) => f.ordersCreated],
	[t("Confirmados", "Confirmed"), (f) => f.ordersConfirmed],
	[t("Entregues", "Delivered"), (f) => f.ordersDelivered],
	[t("Cancelados", "Cancelled"), (f) => f.ordersCancelled],
	[t("Receita", "Revenue"), (f) => money(f.revenueCents)],
	[t("Reembolsos", "Refunds"), (f) => money(f.refundsCents)],
	[t("Líquido", "Net"), (f) => money(f.netRevenueCents)],
	[t("Atrasadas", "Late"), (f) => f.lateDeliveries],
	[t("Entrega p50/p90 (min)", "Delivery p50/p90 (min)"), (f) => summary(f.deliveryMinutes)],
	[t("Atribuição p50 (s)", "Assignment p50 (s)"), (f) => fmt(f.assignSeconds && f.assignSeconds.p50)],
	[t("Entregadores ativos", "Active couriers"), (f) => f.activeCouriers],
];
const fmt = (n) => (Number.isFinite(n) ? n.toLocaleString("pt-BR", { maximumFractionDigits: 1 }) : "—");
const summary = (s) => (s && s.count ? `${fmt(s.p50)} / ${fmt(s.p90)}` : "—");
const busy = (f) =>
	f.ordersCreated || f.ordersConfirmed || f.ordersDelivered || f.ordersCancelled || f.revenueCents || f.refundsCents;

function metricsTable(res) {
	const label = (start) =>
		res.granularity === "hour"
			? dateTime(start).slice(0, -3)
			: new Date(start).toLocaleDateString("pt-BR", { timeZone: "UTC" });
	const rows = res.buckets.filter(busy);
	return h(
		"div",
		{ class: "scroll" },
		h(
			"table",
			{ class: "table metrics" },
			h(
				"thead",
				{},
				h(
					"tr",
					{},
					h("th", {}, t("Período", "Period")),
					COLUMNS.map(([name]) => h("th", {}, name)),
				),
			),
			h(
				"tbody",
				{},
				h(
					"tr",
					{ class: "totals" },
					h("th", {}, "Total"),
					COLUMNS.map(([, value]) => h("td", {}, String(value(res.totals)))),
				),
				rows.map((b) =>
					h(
						"tr",
						{},
						h("td", {}, label(b.start)),
						COLUMNS.map(([, value]) => h("td", {}, String(value(b)))),
					),
				),
			),
		),
		rows.length ? null : empty(t("Nenhuma atividade no período.", "No activity in this period.")),
	);
}

function reportForm() {
	const result = h("div", {});
	return form(
		{ id: "report-form" },
		[
			field(
				t("Relatório", "Report"),
				select("kind", [
					["sales_by_supplier", t("Vendas por revenda", "Sales by supplier")],
					["delivery_performance", t("Desempenho de entregas", "Delivery performance")],
					["cancellations", t("Cancelamentos", "Cancellations")],
				]),
			),
			h("button", { type: "submit" }, t("Gerar e baixar CSV", "Generate and download CSV")),
			result,
		],
		async (values) => {
			const report = await post("/api/analytics/reports", { kind: values.kind });
			await download(
				`/api/analytics/reports/${encodeURIComponent(report.id)}/download?format=csv`,
				`${values.kind}.csv`,
			);
			replace(
				result,
				h(
					"p",
					{ class: "success" },
					t(`Relatório gerado (${report.rowCount} linhas).`, `Report generated (${report.rowCount} rows).`),
				),
			);
		},
	);
}

export function notify(root) {
	const sent = h("div", { id: "notify-result" });
	const channel = (value, text, checked) =>
		h("label", { class: "check" }, h("input", { type: "checkbox", name: `channel-${value}`, checked }), text);
	replace(
		root,
		section(
			t("Enviar aviso", "Send a notice"),
			form(
				{ id: "notify-form" },
				[
					field(
						t("Para todos os", "To every"),
						select("role", [
							["customer", roleText("customer")],
							["supplier", roleText("supplier")],
							["courier", roleText("courier")],
							["admin", roleText("admin")],
							["", t("— um usuário (id abaixo) —", "— one user (id below) —")],
						]),
					),
					field(t("Id do usuário (opcional)", "User id (optional)"), input("userId", { maxlength: 64 })),
					field(t("Assunto", "Subject"), input("subject", { required: true, maxlength: 200 })),
					field(t("Mensagem", "Message"), h("textarea", { name: "body", required: true, maxlength: 4000, rows: 4 })),
					h(
						"fieldset",
						{},
						h("legend", {}, t("Canais", "Channels")),
						channel("inapp", t("No app", "In app"), true),
						channel("email", "E-mail"),
						channel("sms", "SMS"),
					),
					h("button", { type: "submit" }, t("Enviar", "Send")),
				],
				async (values, el) => {
					const channels = ["inapp", "email", "sms"].filter((c) => values[`channel-${c}`]);
					const body = { subject: values.subject, body: values.body, channels };
					if (values.userId) body.userId = values.userId;
					else body.role = values.role;
					const res = await post("/api/notifications", body);
					replace(
						sent,
						h(
							"p",
							{ class: "success" },
							t(`Enviado para ${res.recipients} destinatário(s).`, `Sent to ${res.recipients} recipient(s).`),
						),
					);
					el.reset();
				},
			),
			sent,
		),
	);
}
