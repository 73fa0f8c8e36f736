/**
 * After delivery, on an order's page: the customer rates the supplier and the courier (once,
 * POST /api/reviews), everyone with the order sees the review given, and the customer, the
 * supplier and admins download the receipt. While delivering, the courier attaches a proof photo
 * (with who received the cylinder when the customer is absent).
 */
import { download, get, post, upload } from "../http.js";
import { errorLine, field, form, h, input, replace, select, t } from "../ui.js";

const STARS = [5, 4, 3, 2, 1].map((n) => [String(n), `${"★".repeat(n)}${"☆".repeat(5 - n)} (${n})`]);

/** A box that fills itself; empty until the order is delivered. */
export function afterSale(order, user) {
	const box = h("div", { id: "after-sale", class: "after-sale" });
	if (order.status === "in_transit" && user.role === "courier") {
		replace(box, proofForm(order));
		return box;
	}
	if (order.status !== "delivered") return box;
	const receipt = ["customer", "supplier", "admin"].includes(user.role) ? receiptButton(order) : null;
	const review = h("div", { id: "review-box" });
	replace(box, receipt, review);
	get(`/api/reviews/orders/${encodeURIComponent(order.id)}`)
		.then((given) => replace(review, reviewGiven(given)))
		.catch((err) => {
			if (err.status === 404 && user.role === "customer") replace(review, ratingForm(order, review));
		});
	return box;
}

/** The courier's proof of delivery: a photo, and who received the cylinder if the customer is absent. */
function proofForm(order) {
	const done = h("p", { id: "proof-done", hidden: true }, t("Foto enviada.", "Photo sent."));
	const el = form(
		{ id: "proof-form" },
		[
			h("h3", {}, t("Comprovante de entrega (foto)", "Proof of delivery (photo)")),
			field(
				t("Recebido por (se o cliente estiver ausente)", "Received by (if the customer is absent)"),
				input("leftWith"),
			),
			field(
				t("Foto", "Photo"),
				h("input", { type: "file", name: "file", accept: "image/jpeg,image/png", capture: "environment" }),
			),
			h("button", { type: "submit" }, t("Enviar foto", "Send photo")),
		],
		async (values, formEl) => {
			const data = new FormData();
			if (values.leftWith) data.append("leftWith", values.leftWith);
			const file = formEl.querySelector("input[type=file]").files[0];
			if (file) data.append("file", file, file.name);
			await upload(`/api/orders/${encodeURIComponent(order.id)}/proof`, data);
			done.hidden = false;
		},
	);
	return h("div", {}, el, done);
}

function receiptButton(order) {
	const problem = h("div");
	const button = h(
		"button",
		{
			type: "button",
			id: "receipt-download",
			onclick: () =>
				download(`/api/orders/${encodeURIComponent(order.id)}/receipt`, `recibo-${order.id}.html`).catch((err) =>
					replace(problem, errorLine(err)),
				),
		},
		t("Baixar recibo", "Download receipt"),
	);
	return h("p", {}, button, problem);
}

function reviewGiven(review) {
	return h(
		"section",
		{ id: "review-given" },
		h("h3", {}, t("Avaliação", "Rating")),
		h("p", {}, t("Revenda: ", "Supplier: "), "★".repeat(review.supplierRating)),
		review.courierRating ? h("p", {}, t("Entregador: ", "Courier: "), "★".repeat(review.courierRating)) : null,
		review.comment ? h("blockquote", {}, review.comment) : null,
	);
}

function ratingForm(order, box) {
	return form(
		{ id: "rating-form" },
		[
			h("h3", {}, t("Avalie sua entrega", "Rate your delivery")),
			field(t("Revenda", "Supplier"), select("supplierRating", STARS)),
			order.courierId ? field(t("Entregador", "Courier"), select("courierRating", STARS)) : null,
			field(
				t("Comentário (opcional)", "Comment (optional)"),
				h("textarea", { name: "comment", maxlength: 1000, rows: 3 }),
			),
			h("button", { type: "submit" }, t("Enviar avaliação", "Send rating")),
		],
		async (values) => {
			const body = { orderId: order.id, supplierRating: Number(values.supplierRating) };
			if (values.courierRating) body.courierRating = Number(values.courierRating);
			if (values.comment) body.comment = values.comment;
			replace(box, reviewGiven(await post("/api/reviews", body)));
		},
	);
}
