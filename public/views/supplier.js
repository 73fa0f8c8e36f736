/** The supplier's products and stock: list, create, edit (price, deposit, stock, low-stock threshold, on sale or not); its profile. */
import { get, post, put } from "../http.js";
import { supplierProfileFields } from "./auth.js";
import {
	centsToInput,
	empty,
	errorLine,
	field,
	form,
	h,
	input,
	money,
	replace,
	section,
	select,
	t,
	toCents,
} from "../ui.js";

const TYPES = ["P13", "P5", "P8", "P2", "P20", "P45", "water"];

export async function products(root, ctx) {
	const { user } = ctx;
	if (user.status !== "active")
		return replace(
			root,
			section(
				t("Produtos", "Products"),
				h(
					"p",
					{},
					t(
						"Você poderá cadastrar produtos depois que sua verificação for aprovada. ",
						"You can list products once your verification is approved. ",
					),
					h("a", { href: "#/verification" }, t("Ver verificação", "See verification")),
				),
			),
		);
	const listBox = h("div", { id: "products-list" });
	const editBox = h("div", { id: "product-edit" });
	const load = async () => {
		try {
			const res = await get("/api/products", { supplierId: user.id, inStock: "false", pageSize: 100 });
			replace(
				listBox,
				res.rows.length
					? productTable(res.rows, (p) => replace(editBox, editForm(p, afterSave)))
					: empty(t("Nenhum produto cadastrado.", "No products yet.")),
			);
		} catch (err) {
			replace(listBox, errorLine(err));
		}
	};
	const afterSave = async () => {
		replace(editBox);
		await load();
	};
	replace(
		root,
		section(t("Produtos e estoque", "Products & stock"), listBox, editBox),
		section(t("Novo produto", "New product"), createForm(afterSave)),
	);
	await load();
}

function productTable(rows, onEdit) {
	return h(
		"table",
		{ class: "table" },
		h(
			"thead",
			{},
			h(
				"tr",
				{},
				[
					t("Tipo", "Type"),
					t("Nome", "Name"),
					t("Preço (troca)", "Price (exchange)"),
					t("Vasilhame", "Deposit"),
					t("Estoque", "Stock"),
					t("Reservado", "Reserved"),
					"",
				].map((c) => h("th", {}, c)),
			),
		),
		h(
			"tbody",
			{},
			rows.map((p) =>
				h(
					"tr",
					{ dataset: { productId: p.id }, class: p.stock <= (p.lowStockThreshold ?? 0) ? "low" : null },
					h("td", {}, p.type),
					h("td", {}, p.name || "—"),
					h("td", {}, money(p.priceCents)),
					h("td", {}, money(p.depositCents)),
					h("td", {}, String(p.stock)),
					h("td", {}, String(p.reserved ?? 0)),
					h(
						"td",
						{},
						h("button", { type: "button", class: "secondary", onclick: () => onEdit(p) }, t("Editar", "Edit")),
					),
				),
			),
		),
	);
}

function priceFields(p = {}) {
	return [
		field(t("Nome (opcional)", "Name (optional)"), input("name", { value: p.name || "", maxlength: 120 })),
		h(
			"div",
			{ class: "row" },
			field(
				t("Preço com troca (R$)", "Price with exchange (R$)"),
				input("price", { inputmode: "decimal", required: true, value: centsToInput(p.priceCents) }),
			),
			field(
				t("Valor do vasilhame (R$)", "Cylinder deposit (R$)"),
				input("deposit", { inputmode: "decimal", value: centsToInput(p.depositCents ?? 0) }),
			),
		),
		h(
			"div",
			{ class: "row" },
			field(t("Estoque", "Stock"), input("stock", { type: "number", min: 0, required: true, value: p.stock ?? "" })),
			field(
				t("Alerta de estoque baixo", "Low-stock alert at"),
				input("lowStockThreshold", { type: "number", min: 0, value: p.lowStockThreshold ?? 5 }),
			),
		),
	];
}

/** Form values → the product fields the API takes (money in cents). */
function productBody(values) {
	const body = {
		priceCents: toCents(values.price),
		depositCents: values.deposit === "" ? 0 : toCents(values.deposit),
		stock: Number(values.stock),
	};
	const notMoney = [
		["price", body.priceCents],
		["deposit", body.depositCents],
	].filter(([, cents]) => Number.isNaN(cents));
	if (notMoney.length)
		throw {
			message: t("Informe valores em reais, por exemplo 110,00", "Enter amounts in reais, e.g. 110.00"),
			fields: notMoney.map(([field]) => ({ field, message: t("valor inválido", "not an amount") })),
		};
	if (values.name) body.name = values.name;
	if (values.lowStockThreshold !== "") body.lowStockThreshold = Number(values.lowStockThreshold);
	return body;
}

function createForm(onSaved) {
	return form(
		{ id: "product-create-form" },
		[
			field(
				t("Tipo de botijão", "Cylinder type"),
				select(
					"type",
					TYPES.map((x) => [x, x]),
				),
			),
			priceFields(),
			h("button", { type: "submit" }, t("Cadastrar", "Add product")),
		],
		async (values, el) => {
			await post("/api/products", { type: values.type, ...productBody(values) });
			el.reset();
			await onSaved();
		},
	);
}

function editForm(p, onSaved) {
	return h(
		"div",
		{ class: "card inset" },
		h("h3", {}, t("Editar ", "Edit "), p.type),
		form(
			{ id: "product-edit-form" },
			[
				priceFields(p),
				h(
					"label",
					{ class: "check" },
					input("active", { type: "checkbox", checked: p.active !== false }),
					t("À venda", "On sale"),
				),
				h("button", { type: "submit" }, t("Salvar", "Save")),
			],
			async (values) => {
				await put(`/api/products/${encodeURIComponent(p.id)}`, { ...productBody(values), active: !!values.active });
				await onSaved();
			},
		),
	);
}

/** The supplier's profile: name, where it is (CEP or location, on the map), radius and hours; the catalog follows at once. */
export async function profile(root, { user }) {
	const me = await get(`/api/users/${encodeURIComponent(user.id)}`);
	const current = me.supplierProfile || {};
	const fields = supplierProfileFields({ ...current, address: me.address });
	const done = h("p", { class: "muted", id: "profile-saved", role: "status" });
	const profileForm = form(
		{ id: "supplier-profile-form" },
		[fields.fieldset, h("button", { type: "submit" }, t("Salvar", "Save"))],
		async (values) => {
			const body = { supplierProfile: fields.profile(values) };
			const words = fields.address();
			if (words) body.address = { ...words, ...body.supplierProfile.location };
			await put(`/api/users/${encodeURIComponent(user.id)}`, body);
			done.textContent = t("Salvo. O catálogo já mostra as mudanças.", "Saved. The catalog shows the changes now.");
		},
	);
	replace(root, section(t("Dados da revenda", "Business profile"), profileForm, done));
}
