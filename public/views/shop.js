/**
 * The customer's price comparison and checkout: where to deliver (CEP and number, or the device's
 * location, confirmed on the map; never coordinates typed), which cylinder, offers of open suppliers
 * sorted by price or distance, closed ones apart with their next opening and a "schedule" action;
 * then quantity, exchange, when (now or a slot), a phone for the courier, "CPF na nota", payment (a
 * card tokenized by the provider, PIX, cash with change, or a Gás do Povo voucher for a P13 at an
 * accredited supplier: claimed through POST /api/vouchers/claims, the order paid with the claim's
 * token), and POST /api/orders with an Idempotency-Key. Each offer's rating links to the supplier's
 * reviews (#/suppliers/<id>/reviews).
 */
import { get, post } from "../http.js";
import { addressLine, addressPicker } from "../map.js";
import { voucherRefusalText } from "../reasons.js";
import {
	empty,
	field,
	form,
	h,
	input,
	isValidCpf,
	km,
	money,
	replace,
	section,
	select,
	t,
	toCents,
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
const ADDRESS_KEY = "gasrapido.address";

function savedAddress() {
	try {
		return JSON.parse(localStorage.getItem(ADDRESS_KEY) || "{}");
	} catch {
		return {};
	}
}

function saveAddress(extra) {
	localStorage.setItem(ADDRESS_KEY, JSON.stringify({ ...savedAddress(), ...extra }));
}

const timeFormat = () =>
	new Intl.DateTimeFormat(t("pt-BR", "en-GB"), { weekday: "short", hour: "2-digit", minute: "2-digit" });

/** "hoje às 08:00" / "amanhã às 08:00" / "sex. 08:00". */
export function openingText(iso) {
	const at = new Date(iso);
	const today = new Date();
	const tomorrow = new Date(today.getTime() + 86_400_000);
	const hhmm = at.toLocaleTimeString(t("pt-BR", "en-GB"), { hour: "2-digit", minute: "2-digit" });
	if (at.toDateString() === today.toDateString()) return t(`hoje às ${hhmm}`, `today at ${hhmm}`);
	if (at.toDateString() === tomorrow.toDateString()) return t(`amanhã às ${hhmm}`, `tomorrow at ${hhmm}`);
	return timeFormat().format(at);
}

export function render(root, { navigate, user }) {
	const saved = savedAddress();
	const results = h("div", { id: "offers", class: "offers" });
	const checkout = h("div", { id: "checkout" });
	const picker = addressPicker({ saved, idPrefix: "addr" });

	const searchForm = form(
		{ id: "search-form" },
		[
			picker.element,
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
			const where = picker.value();
			// The catalog is never asked without a delivery point: every supplier, closed ones, "—" km.
			if (!where)
				throw {
					message: t(
						"Informe o CEP e o número, ou use sua localização, para ver quem entrega aí.",
						"Enter the CEP and number, or use your location, to see who delivers there.",
					),
					fields: [{ field: "cep", message: "" }],
				};
			saveAddress({ ...where, type: values.type });
			replace(checkout);
			const offers = await get("/api/products", {
				type: values.type,
				lat: where.lat,
				lng: where.lng,
				sort: values.sort,
				...(values.brand ? { brand: values.brand } : {}),
				openNow: "false",
				pageSize: 50,
			});
			showOffers(results, offers.rows, (offer, schedule) =>
				openCheckout(checkout, offer, picker.value(), navigate, schedule, user),
			);
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

function offerCard(offer, onChoose) {
	const closed = offer.openNow === false;
	return h(
		"article",
		{ class: "offer card", dataset: { productId: offer.id, open: closed ? "false" : "true" } },
		h(
			"div",
			{ class: "offer-head" },
			h("h3", {}, offer.supplier.name),
			h(
				"a",
				{ class: "rating", href: `#/suppliers/${encodeURIComponent(offer.supplier.id)}/reviews` },
				`★ ${offer.supplier.rating ?? "—"} (${offer.supplier.ratingCount ?? 0})`,
				h("span", { class: "sr-only" }, t(" — ver avaliações", " — see reviews")),
			),
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
		closed && offer.nextOpeningAt
			? h(
					"p",
					{ class: "next-opening" },
					t("Fechada agora · abre ", "Closed now · opens "),
					openingText(offer.nextOpeningAt),
				)
			: null,
		closed
			? h(
					"button",
					{ type: "button", class: "schedule", onclick: () => onChoose(offer, true) },
					t("Agendar entrega", "Schedule delivery"),
				)
			: h(
					"button",
					{ type: "button", class: "choose", onclick: () => onChoose(offer, false) },
					t("Escolher", "Choose"),
				),
	);
}

function showOffers(container, offers, onChoose) {
	const open = offers.filter((o) => o.openNow !== false);
	const closed = offers.filter((o) => o.openNow === false);
	replace(
		container,
		open.length
			? [
					h("h2", {}, t(`${open.length} oferta(s) agora`, `${open.length} offer(s) now`)),
					open.map((o) => offerCard(o, onChoose)),
				]
			: empty(
					closed.length
						? t(
								"Nenhuma revenda aberta agora entrega esse botijão aí; agende com uma das fechadas abaixo.",
								"No open supplier delivers this cylinder there now; schedule with one of the closed ones below.",
							)
						: t(
								"Nenhuma revenda entrega esse botijão nesse endereço.",
								"No supplier delivers this cylinder to that address.",
							),
				),
		closed.length
			? h(
					"section",
					{ class: "offers-closed", id: "offers-closed" },
					h("h2", {}, t("Fechadas agora — agende", "Closed now — schedule")),
					closed.map((o) => offerCard(o, onChoose)),
				)
			: null,
	);
}

/** Delivery windows of an hour within the supplier's hours, from its next opening (or now), over 3 days. */
export function slotOptions(offer, now = new Date()) {
	const hours = offer.supplier.openingHours || { open: "00:00", close: "23:59" };
	const [oh, om] = hours.open.split(":").map(Number);
	const [ch, cm] = hours.close.split(":").map(Number);
	const openMin = oh * 60 + om;
	const closeMin = ch * 60 + cm;
	// Suppliers' hours are in Brazil's time (SUPPLIER_TIME_ZONE), whatever the device's zone is.
	const clock = new Intl.DateTimeFormat("en-GB", {
		timeZone: "America/Sao_Paulo",
		hour: "2-digit",
		minute: "2-digit",
		hourCycle: "h23",
	});
	const inHours = (d) => {
		const [hh, mm] = clock.format(d).split(":").map(Number);
		const m = hh * 60 + mm;
		if (openMin === closeMin) return true;
		return openMin < closeMin ? m >= openMin && m <= closeMin : m >= openMin || m <= closeMin;
	};
	const first = new Date(
		Math.max(now.getTime() + 30 * 60_000, offer.nextOpeningAt ? Date.parse(offer.nextOpeningAt) : 0),
	);
	first.setMinutes(first.getMinutes() <= 0 ? 0 : 60, 0, 0);
	const out = [];
	for (let at = first.getTime(); out.length < 24 && at < now.getTime() + 3 * 86_400_000; at += 3600_000) {
		const from = new Date(at);
		const to = new Date(at + 3600_000);
		// The supplier is open at the start and still open at the end (the order is checked at the start).
		if (inHours(from) && inHours(new Date(to.getTime() - 60_000))) out.push({ from, to });
	}
	return out;
}

function slotLabel(slot) {
	const end = slot.to.toLocaleTimeString(t("pt-BR", "en-GB"), { hour: "2-digit", minute: "2-digit" });
	return `${openingText(slot.from.toISOString())}–${end}`;
}

/** The card form: number, expiry, security code; tokenized by the payment provider on submit. */
function cardFields() {
	const fields = h(
		"div",
		{ class: "card-form", id: "card-fields" },
		field(
			t("Número do cartão", "Card number"),
			input("cardNumber", {
				inputmode: "numeric",
				autocomplete: "cc-number",
				maxlength: 23,
				placeholder: "0000 0000 0000 0000",
			}),
		),
		h(
			"div",
			{ class: "row" },
			field(
				t("Validade (MM/AA)", "Expiry (MM/YY)"),
				input("expiry", { inputmode: "numeric", autocomplete: "cc-exp", maxlength: 5, placeholder: "MM/AA" }),
			),
			field(
				t("Código de segurança", "Security code"),
				input("cvc", { inputmode: "numeric", autocomplete: "cc-csc", maxlength: 4, placeholder: "123" }),
			),
		),
		field(
			t("Nome impresso no cartão", "Name on the card"),
			input("holder", { autocomplete: "cc-name", maxlength: 100 }),
		),
		h(
			"small",
			{ class: "hint" },
			t(
				"Os dados do cartão vão direto para o processador de pagamentos; não guardamos o número.",
				"Card details go straight to the payment processor; we do not keep the number.",
			),
		),
	);
	return fields;
}

/** Card values → the provider's token (POST /api/payments/card-tokens); field errors land on the card inputs. */
export async function tokenizeCard(values) {
	const [mm, yy] = String(values.expiry || "").split("/");
	const problems = [];
	if (!/^\d{12,19}$/.test(String(values.cardNumber || "").replace(/[\s-]/g, "")))
		problems.push({ field: "cardNumber", message: t("número inválido", "invalid number") });
	if (!/^\d{1,2}$/.test(mm || "") || !/^\d{2}$/.test(yy || ""))
		problems.push({ field: "expiry", message: t("use MM/AA", "use MM/YY") });
	if (!/^\d{3,4}$/.test(values.cvc || ""))
		problems.push({ field: "cvc", message: t("3 ou 4 dígitos", "3 or 4 digits") });
	if (problems.length) throw { message: t("Confira os dados do cartão", "Check the card details"), fields: problems };
	try {
		const body = { number: values.cardNumber, expMonth: Number(mm), expYear: 2000 + Number(yy), cvc: values.cvc };
		if (values.holder) body.holder = values.holder;
		return await post("/api/payments/card-tokens", body);
	} catch (err) {
		const at = { number: "cardNumber", expiry: "expiry", cvc: "cvc" }[firstField(err)];
		const words = {
			invalid_number: t("Número de cartão inválido", "Invalid card number"),
			expired: t("Cartão vencido", "The card has expired"),
			invalid_cvc: t("Código de segurança inválido", "Invalid security code"),
		}[err.data && err.data.reason];
		throw { message: words || err.message, fields: at ? [{ field: at, message: words || "" }] : [] };
	}
}

/** The phone pattern the server accepts for deliveryAddress.phone (lib/contracts/orders.ts). */
const PHONE = /^\+?[0-9 ()-]{8,20}$/;
/** Gás do Povo codes (lib/domain/vouchers.ts). */
const VOUCHER_CODE = /^GDP-\d{8}$/;

/** The Gás do Povo fields: the beneficiary's CPF and the voucher's code (shown when the voucher is chosen). */
function voucherFields() {
	const box = h(
		"div",
		{ class: "voucher-form", id: "voucher-fields" },
		h(
			"p",
			{ class: "hint" },
			t(
				"O Gás do Povo paga um botijão P13 de famílias beneficiárias. Informe o CPF do beneficiário e o código do vale.",
				"Gás do Povo pays one P13 refill for beneficiary families. Enter the beneficiary's CPF and the voucher code.",
			),
		),
		field(
			t("CPF do beneficiário", "Beneficiary's CPF"),
			input("voucherCpf", { inputmode: "numeric", placeholder: "000.000.000-00", autocomplete: "off", maxlength: 14 }),
		),
		field(
			t("Código do vale", "Voucher code"),
			input("voucherCode", { placeholder: "GDP-12345678", autocomplete: "off", maxlength: 12 }),
		),
	);
	box.hidden = true;
	return box;
}

/** A voucher claim refused (422 VOUCHER_REFUSED or 409 with data.reason) → the problem in words, on its field. */
function voucherRefusal(err) {
	const reason = err && err.data && err.data.reason;
	const words = voucherRefusalText(reason);
	if (!words) return err;
	const at = { invalid_cpf: "voucherCpf", not_beneficiary: "voucherCpf", invalid_code: "voucherCode" }[reason];
	return {
		message: t("Vale Gás do Povo não aceito: ", "Gás do Povo voucher not accepted: ") + words,
		fields: [{ field: at || "voucherCode", message: "" }],
		reason,
	};
}

/** The checkout form for one offer; a new Idempotency-Key per attempt, kept only to retry an attempt with no answer. */
function openCheckout(container, offer, where, navigate, schedule, user) {
	let attempt = null;
	/** The voucher claimed in this checkout (kept to retry the order with it: a claim holds the voucher). */
	let claimed = null;
	const quantity = input("quantity", { type: "number", min: 1, max: 50, value: "1", required: true });
	const exchange = input("exchange", { type: "checkbox", checked: true });
	const card = cardFields();
	const change = field(
		t("Troco para (R$, opcional)", "Change for (R$, optional)"),
		input("changeFor", { inputmode: "decimal", placeholder: "100,00" }),
	);
	change.hidden = true;
	const voucher = voucherFields();
	const estimate = h("p", { class: "total", id: "estimate" });
	const method = (value, text, checked) =>
		h("label", { class: "radio" }, h("input", { type: "radio", name: "paymentMethod", value, checked }), text);
	const voucherChoice = h("div", { id: "voucher-choice" });
	const slots = slotOptions(offer);
	const slotSelect = select(
		"slot",
		slots.map((s, i) => [String(i), slotLabel(s)]),
	);
	const slotField = field(t("Horário da entrega", "Delivery time"), slotSelect);
	const whenNow = h("input", { type: "radio", name: "when", value: "now", checked: !schedule, disabled: schedule });
	const whenLater = h("input", { type: "radio", name: "when", value: "later", checked: schedule });
	slotField.hidden = !schedule;

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
				h("legend", {}, t("Entregar em", "Deliver to")),
				h("p", { id: "checkout-address" }, addressLine(where)),
				field(t("Complemento (apto, bloco)", "Complement (flat, block)"), input("complement", { maxlength: 100 })),
				field(t("Observações para o entregador", "Notes for the courier"), input("notes", { maxlength: 300 })),
				field(
					t("Telefone para o entregador", "Phone for the courier"),
					input("phone", {
						type: "tel",
						autocomplete: "tel",
						maxlength: 20,
						placeholder: "(11) 91234-5678",
						value: (user && user.phone) || "",
					}),
					t("Para ele ligar se precisar (não aparece na nota).", "So they can call if needed (not on the receipt)."),
				),
			),
			h(
				"fieldset",
				{ class: "when" },
				h("legend", {}, t("Quando", "When")),
				h("label", { class: "radio" }, whenNow, t("Agora", "Now")),
				h("label", { class: "radio" }, whenLater, t("Agendar", "Schedule")),
				slots.length
					? slotField
					: h("p", { class: "muted" }, t("Sem horários nos próximos dias.", "No slots in the next days.")),
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
				voucherChoice,
				card,
				change,
				voucher,
			),
			estimate,
			h(
				"button",
				{ type: "submit" },
				schedule ? t("Agendar pedido", "Schedule order") : t("Fazer pedido", "Place order"),
			),
		],
		async (values) => {
			const extra = {};
			const problems = [];
			if (values.phone && !PHONE.test(values.phone))
				problems.push({
					field: "phone",
					message: t("use só números, como (11) 91234-5678", "digits only, like (11) 91234-5678"),
				});
			if (values.cpf && !isValidCpf(values.cpf))
				problems.push({ field: "cpf", message: t("confira os dígitos", "check the digits") });
			if (problems.length)
				throw {
					message: problems.some((p) => p.field === "cpf")
						? t("CPF na nota inválido: confira os números.", "The CPF for the receipt is not valid: check the digits.")
						: t("Confira o telefone para o entregador.", "Check the phone for the courier."),
					fields: problems,
				};
			if (values.when === "later") {
				const slot = slots[Number(values.slot)];
				if (!slot)
					throw { message: t("Escolha um horário", "Choose a time"), fields: [{ field: "slot", message: "" }] };
				extra.scheduledSlot = { from: slot.from.toISOString(), to: slot.to.toISOString() };
			}
			if (values.paymentMethod === "cash" && values.changeFor) {
				const cents = toCents(values.changeFor.replace(/^R\$\s*/, "").replace(/\./g, ""));
				if (!Number.isFinite(cents) || cents <= 0)
					throw {
						message: t("Troco: informe um valor em reais", "Change: enter an amount in reais"),
						fields: [{ field: "changeFor", message: "" }],
					};
				extra.changeForCents = cents;
			}
			if (values.paymentMethod === "card") extra.paymentToken = (await tokenizeCard(values)).token;
			if (values.paymentMethod === "voucher") {
				claimed = await claimVoucher(offer, values, claimed);
				const qty = Number(values.quantity) || 1;
				const unit = values.exchange ? offer.priceCents : offer.priceWithoutExchangeCents;
				if (qty * unit + (offer.deliveryFeeCents || 0) > claimed.maxCents)
					throw {
						message: t(
							`O vale cobre pedidos de até ${money(claimed.maxCents)}; este custa mais.`,
							`The voucher covers orders up to ${money(claimed.maxCents)}; this one costs more.`,
						),
					};
				extra.paymentToken = claimed.paymentToken;
			}
			const body = orderBody(offer, where, values, extra);
			const same = JSON.stringify({ ...body, paymentToken: undefined });
			const key = attempt && attempt.unanswered && attempt.same === same ? attempt.key : uuid();
			attempt = { key, same, unanswered: true };
			try {
				const order = await post("/api/orders", body, { headers: { "Idempotency-Key": key } });
				navigate(`/orders/${order.id}`);
			} catch (err) {
				if (err.status) attempt.unanswered = false;
				if (firstField(err) === "changeForCents")
					throw {
						message: t("O troco deve ser para um valor maior que o total", "Change must be for more than the total"),
						fields: [{ field: "changeFor", message: "" }],
					};
				if (firstField(err) === "cpf")
					throw {
						message: t(
							"CPF na nota inválido: confira os números.",
							"The CPF for the receipt is not valid: check the digits.",
						),
						fields: [{ field: "cpf", message: "" }],
					};
				if (firstField(err) === "deliveryAddress.phone")
					throw {
						message: t("Confira o telefone para o entregador.", "Check the phone for the courier."),
						fields: [{ field: "phone", message: "" }],
					};
				throw err;
			}
		},
	);
	checkoutForm.addEventListener("change", () => {
		const chosen = checkoutForm.querySelector("input[name=paymentMethod]:checked").value;
		card.hidden = chosen !== "card";
		change.hidden = chosen !== "cash";
		voucher.hidden = chosen !== "voucher";
		slotField.hidden = !whenLater.checked;
		updateEstimate();
	});
	quantity.addEventListener("input", updateEstimate);
	updateEstimate();
	replace(container, h("section", { class: "card" }, checkoutForm));
	container.scrollIntoView({ behavior: "smooth", block: "start" });
	offerVoucher(offer, voucherChoice, method);
}

/** Gás do Povo is offered for a P13 at a supplier accredited for it (GET /api/vouchers/accreditations/:id). */
async function offerVoucher(offer, holder, method) {
	if (offer.type !== "P13") return;
	try {
		const res = await get(`/api/vouchers/accreditations/${encodeURIComponent(offer.supplier.id)}`);
		if (res.accredited) replace(holder, method("voucher", t("Vale Gás do Povo", "Gás do Povo voucher")));
	} catch {
		// Not offered when it cannot be known; the other methods stay.
	}
}

/**
 * Claims the voucher (POST /api/vouchers/claims) unless this checkout already holds a claim for the
 * same CPF and code; the CPF's check digits and the code's shape are checked first, as the server does.
 */
async function claimVoucher(offer, values, claimed) {
	const cpf = values.voucherCpf || "";
	const code = (values.voucherCode || "").toUpperCase();
	const problems = [];
	if (!isValidCpf(cpf)) problems.push({ field: "voucherCpf", message: t("confira os dígitos", "check the digits") });
	if (!VOUCHER_CODE.test(code))
		problems.push({ field: "voucherCode", message: t("como GDP-12345678", "like GDP-12345678") });
	if (problems.length)
		throw {
			message: t("Confira os dados do vale Gás do Povo", "Check the Gás do Povo voucher details"),
			fields: problems,
		};
	if (Number(values.quantity) !== 1)
		throw {
			message: t(
				"O vale Gás do Povo paga um botijão por pedido.",
				"A Gás do Povo voucher pays one cylinder per order.",
			),
			fields: [{ field: "quantity", message: "" }],
		};
	const key = `${cpf.replace(/\D/g, "")}|${code}`;
	if (claimed && claimed.key === key && Date.parse(claimed.expiresAt) > Date.now() + 30_000) return claimed;
	try {
		const claim = await post("/api/vouchers/claims", {
			supplierId: offer.supplier.id,
			productId: offer.id,
			cpf,
			code,
		});
		return { ...claim, key };
	} catch (err) {
		throw voucherRefusal(err);
	}
}

/** The field an API error names first (http.js's ApiError lists them in `fields`). */
const firstField = (err) => (err && err.fields && err.fields[0] ? err.fields[0].field : undefined);

function orderBody(offer, where, values, extra) {
	const address = { lat: where.lat, lng: where.lng };
	for (const key of ["street", "number", "district", "city", "state"]) if (where[key]) address[key] = where[key];
	if (/^\d{5}-?\d{3}$/.test(where.cep || "")) address.postcode = where.cep;
	for (const key of ["complement", "notes", "phone"]) if (values[key]) address[key] = values[key];
	return {
		supplierId: offer.supplier.id,
		items: [{ productId: offer.id, quantity: Number(values.quantity), exchange: !!values.exchange }],
		deliveryAddress: address,
		paymentMethod: values.paymentMethod,
		...(values.cpf ? { cpf: values.cpf } : {}),
		...extra,
	};
}
