/**
 * The error catalogue: every error `type` the API answers with, its HTTP status, the message a
 * person reads (pt-BR, the default, and English) and what it means. It is the only place an error's
 * status is decided: lib/infra/errors.ts builds errors from it, the gateway (lib/infra/http-errors.ts)
 * answers with its status and message, and the OpenAPI document and README list it.
 *
 * A more specific message thrown with the error (e.g. "Couriers cannot cancel orders") is shown
 * instead when it has a translation (lib/infra/i18n.ts); otherwise the catalogue's message is.
 */

export type ErrorLocale = "pt-BR" | "en";

export interface CatalogueEntry {
	status: number;
	message: Record<ErrorLocale, string>;
	/** What the problem is and what a client does about it (English, for integrators). */
	meaning: string;
}

const entry = (status: number, ptBR: string, en: string, meaning: string): CatalogueEntry => ({
	status,
	message: { "pt-BR": ptBR, en },
	meaning,
});

export const ERROR_CATALOGUE = {
	// 400
	BAD_REQUEST: entry(400, "Requisição inválida", "Bad request", "The request cannot be understood"),
	INVALID_JSON: entry(400, "O corpo JSON está malformado", "Malformed JSON body", "The body is not valid JSON"),
	MALFORMED_MULTIPART: entry(
		400,
		"O corpo multipart/form-data está malformado ou foi cortado",
		"The multipart/form-data body is malformed or was cut off",
		"An upload whose multipart body cannot be parsed",
	),
	// 401
	UNAUTHORIZED: entry(401, "É preciso entrar na sua conta", "Authentication required", "No bearer token was sent"),
	INVALID_TOKEN: entry(
		401,
		"Token inválido; entre novamente",
		"Invalid token",
		"The bearer token is forged, malformed or names a user that no longer exists",
	),
	TOKEN_EXPIRED: entry(
		401,
		"Sua sessão expirou; entre novamente",
		"Token expired",
		"The access token is past its lifetime: renew it with POST /api/auth/refresh",
	),
	SESSION_REVOKED: entry(
		401,
		"Esta sessão foi encerrada; entre novamente",
		"This session has ended; sign in again",
		"Logout, a new password, role or status ended every session of the user",
	),
	INVALID_CREDENTIALS: entry(
		401,
		"E-mail ou senha incorretos",
		"Wrong e-mail or password",
		"Sign-in with an unknown e-mail or a wrong password (the same answer for both)",
	),
	MFA_CODE_REQUIRED: entry(
		401,
		"Digite o código do seu aplicativo autenticador",
		"Enter the code from your authenticator app",
		"The account has MFA on: send `code` with the sign-in",
	),
	INVALID_MFA_CODE: entry(
		401,
		"Código de verificação incorreto ou já usado",
		"Wrong MFA code, or a code that was already used",
		"The TOTP code is wrong or was used before",
	),
	INVALID_REFRESH_TOKEN: entry(
		401,
		"Token de renovação inválido; entre novamente",
		"Invalid refresh token; sign in again",
		"The refresh token is unknown or expired",
	),
	REFRESH_TOKEN_REUSED: entry(
		401,
		"Este token de renovação já foi usado; entre novamente",
		"This refresh token was already used; sign in again",
		"A used refresh token was sent again: every token of that sign-in is revoked",
	),
	// 403
	FORBIDDEN: entry(
		403,
		"Você não tem permissão para fazer isso",
		"You are not allowed to do this",
		"Signed in, but the resource is not yours (ownership) or the action is not allowed",
	),
	FORBIDDEN_ROLE: entry(
		403,
		"Seu perfil não pode fazer isso",
		"Your role may not do this",
		"The route needs another role",
	),
	ACCOUNT_INACTIVE: entry(
		403,
		"A conta está suspensa ou excluída",
		"Account is suspended or deleted",
		"The account may not sign in or act",
	),
	MFA_REQUIRED: entry(
		403,
		"Esta operação exige um login com verificação em duas etapas",
		"This operation needs an MFA-verified login",
		"A sensitive operation: sign in with `code` first",
	),
	INVITE_EMAIL_MISMATCH: entry(
		403,
		"Este convite é para outro endereço de e-mail",
		"This invite is for another e-mail address",
		"Registration with an invite made out to another e-mail",
	),
	// 404
	NOT_FOUND: entry(404, "Não encontrado", "Not found", "No such resource (`data.what`, `data.id`), or no such route"),
	// 409
	CONFLICT: entry(
		409,
		"O estado do recurso não permite isso",
		"The resource's state does not allow this",
		"The resource changed or is in a state that refuses the request; reload it",
	),
	NOT_DELIVERED: entry(
		409,
		"O pedido ainda não foi entregue",
		"The order is not delivered yet",
		"Rating an order or fetching its receipt needs the order delivered",
	),
	ALREADY_RATED: entry(409, "Este pedido já foi avaliado", "This order is already rated", "One review per order"),
	NOT_IN_TRANSIT: entry(
		409,
		"O pedido não está a caminho",
		"The order is not in transit",
		"A proof of delivery is attached while the order is in transit",
	),
	PROOF_EXISTS: entry(
		409,
		"Este pedido já tem a sua comprovação de entrega",
		"This order already has its proof of delivery",
		"One proof of delivery per order",
	),
	INVALID_TRANSITION: entry(
		409,
		"O pedido não pode passar para esse status",
		"The order cannot move to that status",
		"An order status change its current status does not allow (`data.status` is the current one)",
	),
	OUT_OF_STOCK: entry(
		409,
		"Não há estoque suficiente para este pedido",
		"Not enough stock for this order",
		"The supplier has fewer cylinders than ordered (`data.available`)",
	),
	SUPPLIER_NOT_ACTIVE: entry(
		409,
		"Este fornecedor não está vendendo no momento",
		"This supplier is not selling at the moment",
		"The supplier is not verified yet or was suspended: no orders, no catalog changes",
	),
	SUPPLIER_CLOSED: entry(
		409,
		"Este fornecedor está fechado nesse horário",
		"This supplier is closed at that time",
		"An order outside the supplier's opening hours (`data.openingHours`); schedule it inside them",
	),
	INVITE_USED: entry(409, "Este convite já foi usado", "This invite has already been used", "An invite is used once"),
	REFUND_EXCEEDS_PAID: entry(
		409,
		"O reembolso não pode passar do que resta do pagamento",
		"A refund cannot exceed what is left of the payment",
		"`data.refundableCents` is what can still be refunded",
	),
	// 410
	INVITE_EXPIRED: entry(410, "Este convite expirou", "This invite has expired", "Ask for a new invite"),
	INVITE_REVOKED: entry(410, "Este convite foi revogado", "This invite was revoked", "Ask for a new invite"),
	// 413
	PAYLOAD_TOO_LARGE: entry(
		413,
		"O corpo da requisição é grande demais",
		"Request body is too large",
		"Over BODY_LIMIT",
	),
	FILE_TOO_LARGE: entry(
		413,
		"O arquivo é grande demais",
		"The file is too large",
		"An uploaded document over the limit (`data.maxBytes`)",
	),
	// 415
	UNSUPPORTED_MEDIA_TYPE: entry(
		415,
		"Envie o arquivo como multipart/form-data",
		"Send the file as multipart/form-data",
		"An upload route called with another Content-Type",
	),
	UNSUPPORTED_FILE_TYPE: entry(
		415,
		"O arquivo não é PDF, JPEG nem PNG",
		"The file is not a PDF, JPEG or PNG",
		"Documents are PDF, JPEG or PNG (checked on the bytes)",
	),
	FILE_TYPE_MISMATCH: entry(
		415,
		"O nome ou o tipo declarado do arquivo não corresponde ao conteúdo",
		"The file's name or declared type does not match its content",
		"The file's extension or Content-Type says another type than its bytes",
	),
	// 422
	VALIDATION_ERROR: entry(
		422,
		"Alguns campos não são válidos",
		"Some fields are not valid",
		"Params failed validation: `data.fields` lists each field, its rule and a message",
	),
	UNPROCESSABLE: entry(
		422,
		"Não foi possível processar o pedido",
		"The request cannot be processed",
		"A business rule refuses the request (fields in `data.fields` when they are the cause)",
	),
	OUT_OF_DELIVERY_AREA: entry(
		422,
		"Este fornecedor não entrega nesse endereço",
		"This supplier does not deliver to that address",
		"The address is beyond the supplier's delivery radius (`data.distanceKm`, `data.deliveryRadiusKm`)",
	),
	PROOF_PHOTO_REQUIRED: entry(
		422,
		"Anexe a foto da entrega com o nome de quem recebeu",
		"Attach the delivery photo naming who received the cylinder",
		"A delivery left with someone other than the customer needs a proof photo naming them (POST /api/orders/:id/proof)",
	),
	VOUCHER_REFUSED: entry(
		422,
		"Este vale Gás do Povo não pode ser usado aqui",
		"This Gás do Povo voucher cannot be used here",
		"The voucher claim was refused: CPF, code, supplier accreditation, product or eligibility (`data.reason`)",
	),
	REASON_REQUIRED: entry(422, "Diga por que o pedido foi cancelado", "Say why the order is cancelled", "Send `reason`"),
	HANDOVER_CODE_REQUIRED: entry(
		422,
		"Peça ao cliente o código de entrega",
		"Ask the customer for the handover code",
		"Delivering needs the customer's handover code",
	),
	WRONG_HANDOVER_CODE: entry(
		422,
		"O código de entrega não confere",
		"The handover code does not match",
		"A wrong handover code (each wrong one is counted; see HANDOVER_LOCKED)",
	),
	IDEMPOTENCY_KEY_REUSED: entry(
		422,
		"Esta Idempotency-Key foi usada para outro pedido",
		"This Idempotency-Key was used for a different order",
		"Use a new key for a new request",
	),
	// 423
	HANDOVER_LOCKED: entry(
		423,
		"Códigos de entrega errados demais: um administrador precisa entregar ou cancelar este pedido",
		"Too many wrong handover codes: an admin must deliver or cancel this order",
		"The order is locked against further handover attempts",
	),
	// 429
	RATE_LIMITED: entry(
		429,
		"Requisições demais; tente de novo em instantes",
		"Too many requests; try again shortly",
		"Over the rate limit: see Retry-After and RateLimit-*",
	),
	TOO_MANY_ATTEMPTS: entry(
		429,
		"Tentativas de entrada demais nesta conta: tente mais tarde",
		"Too many failed sign-ins for this account: try again later",
		"The account is blocked after failed sign-ins (Retry-After)",
	),
	// 5xx
	INTERNAL_ERROR: entry(
		500,
		"Erro interno do servidor",
		"Internal server error",
		"Our failure; the request id is in the logs",
	),
	DOCUMENT_FILE_MISSING: entry(
		500,
		"O arquivo do documento está faltando",
		"The document's file is missing",
		"A stored document's file is gone",
	),
	DOCUMENT_CORRUPT: entry(
		500,
		"O arquivo do documento não confere com a soma de verificação",
		"The document's file does not match its checksum",
		"A stored document's file was altered",
	),
	REFUND_FAILED: entry(
		502,
		"O provedor de pagamento recusou o reembolso",
		"The payment provider refused the refund",
		"The refund was not made; try again later",
	),
	SERVICE_UNAVAILABLE: entry(
		503,
		"O serviço está indisponível no momento; tente de novo em instantes",
		"No instance of the service behind this route is available right now; retry shortly",
		"A service is restarting: see Retry-After",
	),
	GEOCODER_UNAVAILABLE: entry(
		503,
		"O serviço de endereços está indisponível no momento; tente de novo em instantes",
		"The address service is unavailable right now; try again in a moment",
		"The geocoding or CEP provider failed or cannot be reached (`data.retryAfterSeconds`); the page still works with the map pin",
	),
	REQUEST_TIMEOUT: entry(
		504,
		"O serviço demorou demais para responder",
		"The request took too long",
		"The call outlived REQUEST_TIMEOUT_MS",
	),
} satisfies Record<string, CatalogueEntry>;

export type ErrorType = keyof typeof ERROR_CATALOGUE;

export const isErrorType = (type: unknown): type is ErrorType =>
	typeof type === "string" && Object.prototype.hasOwnProperty.call(ERROR_CATALOGUE, type);

export const errorStatusOf = (type: ErrorType): number => ERROR_CATALOGUE[type].status;

/** The catalogue's type for an error of another origin (Moleculer, moleculer-web) by its status. */
export function genericType(status: number): ErrorType {
	const byStatus: Record<number, ErrorType> = {
		400: "BAD_REQUEST",
		401: "UNAUTHORIZED",
		403: "FORBIDDEN",
		404: "NOT_FOUND",
		409: "CONFLICT",
		413: "PAYLOAD_TOO_LARGE",
		415: "UNSUPPORTED_MEDIA_TYPE",
		422: "UNPROCESSABLE",
		429: "RATE_LIMITED",
		503: "SERVICE_UNAVAILABLE",
		504: "REQUEST_TIMEOUT",
	};
	return byStatus[status] ?? (status >= 500 ? "INTERNAL_ERROR" : "BAD_REQUEST");
}

/** A domain refusal's type with its status from this catalogue (domain rules never pick a status themselves). */
export const refusal = (type: ErrorType): { code: number; type: ErrorType } => ({
	code: ERROR_CATALOGUE[type].status,
	type,
});
