/**
 * A supplier's reviews (#/suppliers/<id>/reviews, linked from the rating on the catalog's offers):
 * the average, how many of each rating, and the reviews newest first, a page at a time
 * (GET /api/suppliers/:supplierId/reviews, public). The name comes from the supplier's catalog row.
 */
import { get } from "../http.js";
import { dateTime, empty, errorLine, h, replace, t } from "../ui.js";

const PAGE_SIZE = 20;
const stars = (n) => `${"★".repeat(n)}${"☆".repeat(5 - n)}`;

/** The supplier's name from the catalog (any product of theirs, open or not); null when it has none listed. */
async function supplierName(supplierId) {
	try {
		const res = await get("/api/products", { supplierId, openNow: "false", inStock: "false", pageSize: 1 });
		return (res.rows[0] && res.rows[0].supplier && res.rows[0].supplier.name) || null;
	} catch {
		return null;
	}
}

function summaryBox(summary) {
	const count = summary.count || 0;
	const histogram = summary.histogram || [0, 0, 0, 0, 0];
	return h(
		"div",
		{ class: "review-summary", id: "review-summary" },
		h(
			"p",
			{ class: "rating-average" },
			h("strong", {}, summary.average == null ? "—" : `★ ${summary.average}`),
			" ",
			t(`${count} avaliação(ões)`, `${count} review(s)`),
		),
		h(
			"ul",
			{ class: "histogram" },
			[5, 4, 3, 2, 1].map((n) =>
				h("li", {}, `${stars(n)} `, h("span", { class: "muted" }, String(histogram[n - 1] || 0))),
			),
		),
	);
}

function reviewItem(r) {
	return h(
		"li",
		{ class: "review", dataset: { orderId: r.orderId } },
		h(
			"span",
			{ class: "rating", "aria-label": t(`${r.rating} de 5`, `${r.rating} of 5`), role: "img" },
			stars(r.rating),
		),
		" ",
		h("small", { class: "muted" }, dateTime(r.createdAt)),
		r.comment ? h("blockquote", {}, r.comment) : null,
	);
}

export async function render(root, { params }) {
	const supplierId = params.id;
	const list = h("ul", { class: "reviews", id: "reviews-list" });
	const more = h("div", { id: "reviews-more" });
	const title = h("h2", {}, t("Avaliações", "Reviews"));
	let page = 1;

	const load = async () => {
		const res = await get(`/api/suppliers/${encodeURIComponent(supplierId)}/reviews`, { page, pageSize: PAGE_SIZE });
		list.append(...res.rows.map(reviewItem));
		const shown = list.children.length;
		replace(
			more,
			shown < (res.total ?? 0)
				? h(
						"button",
						{
							type: "button",
							class: "secondary",
							onclick: async () => {
								page += 1;
								try {
									await load();
								} catch (err) {
									replace(more, errorLine(err));
								}
							},
						},
						t("Ver mais avaliações", "More reviews"),
					)
				: null,
		);
		return res;
	};

	const [first, name] = await Promise.all([load(), supplierName(supplierId)]);
	if (name) replace(title, t(`Avaliações de ${name}`, `Reviews of ${name}`));
	replace(
		root,
		h(
			"section",
			{ class: "card", id: "supplier-reviews", dataset: { supplierId } },
			title,
			summaryBox(first.summary || {}),
			first.rows.length ? list : empty(t("Ninguém avaliou esta revenda ainda.", "Nobody has rated this supplier yet.")),
			more,
			h(
				"p",
				{},
				h(
					"a",
					{ href: "#/shop", onclick: (e) => history.length > 1 && (e.preventDefault(), history.back()) },
					t("← Voltar", "← Back"),
				),
			),
		),
	);
}
