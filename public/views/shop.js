/**
 * The customer's price comparison and checkout: where to deliver, which cylinder, offers sorted by
 * price or distance, then quantity, exchange, payment, and POST /api/orders with an Idempotency-Key.
 */
import { get, post } from "../http.js";
import {
	empty,
	field,
	form,
	h,
	input,
	km,
	money,
	num,
	replace,
	section,
	select,
	showError,
	t,
	useLocationButton,
	uuid,
} from "../ui.js";

const CYLINDERS = [
	["P13", t("P13 — botijão de cozinha (13 kg)", "P13 — household (13 kg)")],
	["P5", "P5 (5 kg)"],
	["P8", "P8 (8 kg)"],
	["P2", "P2 (2 kg)"],
	["P20", t("P20 — empilhadeira (20 kg)", "P20 — forklift (20 kg)")],
	["P45", t("P45 — comercial (45 kg)", "P45 — commercial (45 kg)")],
	["water", t("Água mineral (galão)", "Mineral water (jug)")],
];
const BRANDS = [
	["", t("Todas as marcas", "All brands")],
	["ultragaz", "Ultragaz"],
	["liquigas", "Liquigás"],
	["supergasbras", "Supergasbras"],
	["copagaz", "Copagaz"],
	["nacional_gas", "Nacional Gás"],
	["consigaz", "Consigaz"],
	["fogas", "Fogás"],
	["other", t("Outras", "Other")],
];
export const TEST_CARD = "4242424242424242";
const ADDRESS_KEY = "gasrapido.address";

function savedAddress() {
	try {
		return JSON.parse(localStorage.getItem(ADDRESS_KEY) || "{}");
	} catch {
		return {};
	}
}

export function render(root, { navigate }) {
	const saved = savedAddress();
	const lat = input("lat", { inputmode: "decimal", required: true, value: saved.lat ?? "", placeholder: "-23.5505" });
	const lng = input("lng", { inputmode: "decimal", required: true, value: saved.lng ?? "", placeholder: "-46.6333" });
	const results = h("div", { id: "offers", class: "offers" });
	const checkout = h("div", { id: "checkout" });

	const searchForm = form(
		{ id: "search-form" },
		[
			h("div", { class: "row" }, field("Latitude", lat), field("Longitude", lng)),
			useLocationButton(lat, lng, (err) => showError(searchForm, err)),
			field(t("Tipo de botijão", "Cylinder type"), select("type", CYLINDERS, { value: saved.type || "P13" })),
			field(t("Marca", "Brand"), select("brand", BRANDS)),
			field(
				t("Ordenar por", "Sort by"),
				select("sort", [
					["price", t("Menor preço", "Lowest price")],
					["distance", t("Mais perto", "Nearest")],
					["rating", t("Melhor avaliada", "Best rated")],
				]),
			),
			h("button", { type: "submit" }, t("Comparar preços", "Compare prices")),
		],
		async (values) => {
			const where = { lat: num(values.lat), lng: num(values.lng) };
			localStorage.setItem(
				ADDRESS_KEY,
				JSON.stringify({ ...savedAddress(), lat: values.lat, lng: values.lng, type: values.type }),
			);
			replace(checkout);
			const offers = await get("/api/products", {
				type: values.type,
				lat: values.lat,
				lng: values.lng,
				sort: values.sort,
				...(values.brand ? { brand: values.brand } : {}),
				pageSize: 50,
			});
			showOffers(results, offers.rows, (offer) => openCheckout(checkout, offer, where, navigate));
		},
	);
	replace(
		root,
		section(
			t("Comparar preços de gás", "Compare gas prices"),
			h(
				"p",
				{ class: "muted" },
				t("Informe onde entregar e escolha o botijão.", "Tell us where to deliver and pick a cylinder."),
			),
			searchForm,
		),
		results,
		checkout,
	);
}

function showOffers(container, offers, onChoose) {
	if (offers.length === 0)
		return replace(
			container,
			empty(
				t(
					"Nenhuma revenda aberta entrega esse botijão nesse endereço agora.",
					"No open supplier delivers this cylinder to that address right now.",
				),
			),
		);
	replace(
		container,
		h("h2", {}, t(`${offers.length} oferta(s)`, `${offers.length} offer(s)`)),
		offers.map((offer) =>
			h(
				"article",
				{ class: "offer card", dataset: { productId: offer.id } },
				h(
					"div",
					{ class: "offer-head" },
					h("h3", {}, offer.supplier.name),
					h("span", { class: "rating" }, `★ ${offer.supplier.rating ?? "—"} (${offer.supplier.ratingCount ?? 0})`),
				),
				h(
					"p",
					{ class: "price" },
					money(offer.priceCents),
					h("small", {}, t(" com troca do vasilhame", " with your empty cylinder")),
				),
				h(
					"p",
					{ class: "muted" },
					t("Sem troca: ", "Without exchange: "),
					money(offer.priceWithoutExchangeCents),
					" · ",
					t("Entrega: ", "Delivery: "),
					money(offer.deliveryFeeCents),
					" · ",
					km(offer.distanceKm),
					" · ",
					t(`${offer.stock} em estoque`, `${offer.stock} in stock`),
				),
				h("button", { type: "button", class: "choose", onclick: () => onChoose(offer) }, t("Escolher", "Choose")),
			),
		),
	);
}

/** The checkout form for one offer; a new Idempotency-Key per attempt, kept only to retry an attempt with no answer. */
function openCheckout(container, offer, where, navigate) {
	const saved = savedAddress();
	let attempt = null;
	const quantity = input("quantity", { type: "number", min: 1, max: 50, value: "1", required: true });
	const exchange = input("exchange", { type: "checkbox", checked: true });
	const cardToken = input("paymentToken", { value: TEST_CARD, autocomplete: "off" });
	const cardField = field(
		t("Token do cartão (teste: 4242 4242 4242 4242)", "Card token (test: 4242 4242 4242 4242)"),
		cardToken,
	);
	const estimate = h("p", { class: "total", id: "estimate" });
	const method = (value, text, checked) =>
		h("label", { class: "radio" }, h("input", { type: "radio", name: "paymentMethod", value, checked }), text);

	const updateEstimate = () => {
		const qty = Math.max(1, Number(quantity.value) || 1);
		const unit = exchange.checked ? offer.priceCents : offer.priceWithoutExchangeCents;
		estimate.textContent = `${t("Total estimado", "Estimated total")}: ${money(qty * unit + (offer.deliveryFeeCents || 0))}`;
	};

	const checkoutForm = form(
		{ id: "checkout-form" },
		[
			h("h2", {}, t("Seu pedido: ", "Your order: "), `${offer.type} · ${offer.supplier.name}`),
			h(
				"div",
				{ class: "row" },
				field(t("Quantidade", "Quantity"), quantity),
				h(
					"label",
					{ class: "check" },
					exchange,
					t("Tenho o vasilhame vazio para trocar", "I have an empty cylinder to exchange"),
				),
			),
			h(
				"fieldset",
				{},
				h("legend", {}, t("Endereço de entrega", "Delivery address")),
				field(t("Rua", "Street"), input("street", { value: saved.street || "", autocomplete: "address-line1" })),
				h(
					"div",
					{ class: "row" },
					field(t("Número", "Number"), input("number", { value: saved.number || "" })),
					field(t("Complemento", "Complement"), input("complement")),
				),
				field(t("Cidade", "City"), input("city", { value: saved.city || "", autocomplete: "address-level2" })),
				field(t("Observações para o entregador", "Notes for the courier"), input("notes")),
			),
			field(
				t("CPF na nota (opcional)", "CPF on the receipt (optional)"),
				input("cpf", { inputmode: "numeric", placeholder: "000.000.000-00", autocomplete: "off" }),
			),
			h(
				"fieldset",
				{ class: "payment" },
				h("legend", {}, t("Pagamento", "Payment")),
				method("card", t("Cartão", "Card"), true),
				method("pix", "PIX"),
				method("cash", t("Dinheiro na entrega", "Cash on delivery")),
				cardField,
			),
			estimate,
			h("button", { type: "submit" }, t("Fazer pedido", "Place order")),
		],
		async (values) => {
			const body = orderBody(offer, where, values);
			const key = attempt && attempt.unanswered && attempt.same === JSON.stringify(body) ? attempt.key : uuid();
			attempt = { key, same: JSON.stringify(body), unanswered: true };
			localStorage.setItem(
				ADDRESS_KEY,
				JSON.stringify({ ...savedAddress(), street: values.street, number: values.number, city: values.city }),
			);
			try {
				const order = await post("/api/orders", body, { headers: { "Idempotency-Key": key } });
				navigate(`/orders/${order.id}`);
			} catch (err) {
				if (err.status) attempt.unanswered = false;
				throw err;
			}
		},
	);
	checkoutForm.addEventListener("change", () => {
		cardField.hidden = checkoutForm.querySelector("input[name=paymentMethod]:checked").value !== "card";
		updateEstimate();
	});
	quantity.addEventListener("input", updateEstimate);
	updateEstimate();
	replace(container, h("section", { class: "card" }, checkoutForm));
	container.scrollIntoView({ behavior: "smooth", block: "start" });
}

function orderBody(offer, where, values) {
	const address = { lat: where.lat, lng: where.lng };
	for (const key of ["street", "number", "complement", "city", "notes"]) if (values[key]) address[key] = values[key];
	const body = {
		supplierId: offer.supplier.id,
		items: [{ productId: offer.id, quantity: Number(values.quantity), exchange: !!values.exchange }],
		deliveryAddress: address,
		paymentMethod: values.paymentMethod,
	};
	if (values.paymentMethod === "card") body.paymentToken = values.paymentToken;
	if (values.cpf) body.cpf = values.cpf;
	return body;
}
