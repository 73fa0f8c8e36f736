/**
 * A supplier's or courier's verification: which documents are needed and where each stands, and
 * the upload (multipart: `type`, `metadata` as JSON, then the file — PDF, JPEG or PNG).
 */
import { ApiError, get, upload } from "../http.js";
import { badge, dateTime, empty, field, form, h, input, replace, section, select, statusText, t } from "../ui.js";

export const DOCUMENT_TEXT = {
	anp_authorization: t("Autorização da ANP", "ANP reseller authorization"),
	company_registration: t("CNPJ (cartão CNPJ)", "Company registration (CNPJ)"),
	fire_safety_permit: t("Alvará do Corpo de Bombeiros", "Fire-safety permit"),
	drivers_licence: t("CNH", "Driver's licence"),
	vehicle_document: t("Documento do veículo (CRLV)", "Vehicle document"),
	courier_training: t("Curso de transporte de produtos perigosos (MOPP)", "Dangerous-goods training"),
};

/** The metadata each document type carries (see lib/documents.ts). */
export const METADATA_FIELDS = {
	anp_authorization: [
		["number", t("Número da autorização", "Authorization number"), {}],
		["validUntil", t("Válida até", "Valid until"), { type: "date", optional: true }],
	],
	company_registration: [
		["cnpj", "CNPJ", {}],
		["legalName", t("Razão social", "Legal name"), { optional: true }],
	],
	fire_safety_permit: [
		["number", t("Número do alvará", "Permit number"), {}],
		["validUntil", t("Válido até", "Valid until"), { type: "date" }],
	],
	drivers_licence: [
		["number", t("Número da CNH", "Licence number"), { optional: true }],
		["category", t("Categoria", "Category"), { options: ["A", "B", "C", "D", "E", "AB", "AC", "AD", "AE"] }],
		["issueDate", t("Emissão", "Issued on"), { type: "date" }],
		["validUntil", t("Validade", "Valid until"), { type: "date", optional: true }],
	],
	vehicle_document: [
		["vehicleType", t("Tipo de veículo", "Vehicle type"), { options: ["motorcycle", "car", "pickup", "van", "truck"] }],
		["plate", t("Placa", "Plate"), {}],
		["hasSidecar", t("Moto com sidecar", "Motorcycle with sidecar"), { type: "checkbox" }],
	],
	courier_training: [
		["kind", t("Curso", "Course"), { options: ["dangerous_goods", "motorcycle_courier"] }],
		["number", t("Número do certificado", "Certificate number"), { optional: true }],
		["issueDate", t("Emissão", "Issued on"), { type: "date" }],
	],
};

export async function mine(root) {
	let status;
	try {
		status = await get("/api/verification/status");
	} catch (err) {
		if (err instanceof ApiError && err.status === 404)
			return replace(
				root,
				section(
					t("Verificação", "Verification"),
					empty(t("Não há verificação para a sua conta.", "There is no verification for your account.")),
				),
			);
		throw err;
	}
	const pending = status.required.filter((d) => d.status === "missing" || d.status === "rejected");
	replace(
		root,
		section(
			t("Verificação", "Verification"),
			h("p", {}, t("Situação: ", "Status: "), h("span", { id: "verification-status" }, badge(status.status))),
			h(
				"ul",
				{ class: "documents" },
				status.required.map((d) =>
					h(
						"li",
						{ dataset: { type: d.type } },
						DOCUMENT_TEXT[d.type] || d.type,
						" — ",
						badge(d.status),
						d.reason ? h("span", { class: "reason" }, ` ${t("Motivo", "Reason")}: ${d.reason}`) : null,
					),
				),
			),
			status.status === "approved"
				? h(
						"p",
						{ class: "success" },
						t("Tudo aprovado! Sua conta está ativa.", "All approved! Your account is active."),
						" ",
						t("Entre novamente para atualizar seu acesso.", "Sign in again to refresh your access."),
					)
				: null,
		),
		status.status === "approved"
			? null
			: section(
					t("Enviar documento", "Upload a document"),
					uploadForm(status.required, pending, () => mine(root)),
				),
		status.documents.length
			? section(
					t("Envios", "Uploads"),
					h(
						"ul",
						{},
						status.documents.map((d) =>
							h(
								"li",
								{},
								DOCUMENT_TEXT[d.type] || d.type,
								" · ",
								d.fileName || "",
								" · ",
								dateTime(d.uploadedAt),
								" · ",
								badge(d.status),
							),
						),
					),
				)
			: null,
	);
}

function uploadForm(required, pending, onUploaded) {
	const choices = required
		.filter((d) => d.status !== "approved")
		.map((d) => [d.type, `${DOCUMENT_TEXT[d.type] || d.type} (${statusText(d.status)})`]);
	const typeSelect = select("type", choices, { value: pending[0] ? pending[0].type : undefined });
	const metadataBox = h("fieldset", { class: "metadata" });
	const paintMetadata = () =>
		replace(
			metadataBox,
			h("legend", {}, t("Dados do documento", "Document details")),
			(METADATA_FIELDS[typeSelect.value] || []).map(metadataInput),
		);
	typeSelect.addEventListener("change", paintMetadata);
	paintMetadata();
	return form(
		{ id: "upload-form" },
		[
			field(t("Documento", "Document"), typeSelect),
			metadataBox,
			field(
				t("Arquivo (PDF, JPEG ou PNG, até 10 MB)", "File (PDF, JPEG or PNG, up to 10 MB)"),
				input("file", { type: "file", accept: "application/pdf,image/jpeg,image/png", required: true }),
			),
			h("button", { type: "submit" }, t("Enviar", "Upload")),
		],
		async (values, el) => {
			const file = el.querySelector("input[type=file]").files[0];
			if (!file)
				throw new ApiError(422, { message: t("Escolha um arquivo", "Choose a file"), data: { field: "file" } });
			const data = new FormData();
			data.append("type", values.type);
			data.append("metadata", JSON.stringify(metadataOf(values.type, values)));
			data.append("file", file, file.name);
			await upload("/api/verification/documents", data);
			await onUploaded();
		},
	);
}

function metadataInput([name, label, opts]) {
	if (opts.options)
		return field(
			label,
			select(
				name,
				opts.options.map((o) => [o, o]),
			),
		);
	if (opts.type === "checkbox") return h("label", { class: "check" }, input(name, { type: "checkbox" }), label);
	return field(
		opts.optional ? `${label} (${t("opcional", "optional")})` : label,
		input(name, { type: opts.type || "text", required: !opts.optional }),
	);
}

function metadataOf(type, values) {
	const metadata = {};
	for (const [name, , opts] of METADATA_FIELDS[type] || []) {
		if (opts.type === "checkbox") {
			if (values[name]) metadata[name] = true;
		} else if (values[name] !== "" && values[name] !== undefined) metadata[name] = values[name];
	}
	return metadata;
}
