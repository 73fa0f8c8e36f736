/**
 * After delivery, on an order's page: the customer rates the supplier and the courier (once,
 * POST /api/reviews), and everyone with the order sees the review given.
 */
import { get, post } from "../http.js";
import { field, form, h, replace, select, t } from "../ui.js";

const STARS = [5, 4, 3, 2, 1].map((n) => [String(n), `${"★".repeat(n)}${"☆".repeat(5 - n)} (${n})`]);

/** A box that fills itself; empty until the order is delivered. */
export function afterSale(order, user) {
	const box = h("div", { id: "after-sale", class: "after-sale" });
	if (order.status !== "delivered") return box;
	get(`/api/reviews/orders/${encodeURIComponent(order.id)}`)
		.then((review) => replace(box, reviewGiven(review)))
		.catch((err) => {
			if (err.status === 404 && user.role === "customer") replace(box, ratingForm(order, box));
		});
	return box;
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
