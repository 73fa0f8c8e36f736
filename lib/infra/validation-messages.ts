/**
 * fastest-validator's messages in Portuguese (pt-BR) and English: the message overrides of each
 * rule type, with its `{field}`, `{expected}` and `{actual}`. The services validate with the English
 * set (the validator's own); the gateway renders each failing field again in the caller's language
 * from its rule type (lib/infra/http-errors.ts), so a service on another node needs no locale.
 */
import type { Locale } from "../domain/templates";

// fastest-validator ships its English messages as a plain CommonJS object.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const fvMessages = require("fastest-validator/lib/messages") as Record<string, string>;

export const EN_MESSAGES: Record<string, string> = {
	...fvMessages,
	passwordWeak: "The password is too easy to guess: use a longer one, e.g. a few unrelated words with a number",
	invalid: "The '{field}' field is not valid.",
};

export const PT_BR_MESSAGES: Record<string, string> = {
	required: "O campo '{field}' é obrigatório.",
	string: "O campo '{field}' deve ser um texto.",
	stringEmpty: "O campo '{field}' não pode ficar vazio.",
	stringMin: "O campo '{field}' deve ter pelo menos {expected} caracteres.",
	stringMax: "O campo '{field}' deve ter no máximo {expected} caracteres.",
	stringLength: "O campo '{field}' deve ter exatamente {expected} caracteres.",
	stringPattern: "O campo '{field}' não está no formato esperado.",
	stringContains: "O campo '{field}' deve conter o texto '{expected}'.",
	stringEnum: "O campo '{field}' não tem um dos valores permitidos.",
	stringNumeric: "O campo '{field}' deve conter apenas números.",
	stringAlpha: "O campo '{field}' deve conter apenas letras.",
	stringAlphanum: "O campo '{field}' deve conter apenas letras e números.",
	stringAlphadash: "O campo '{field}' deve conter apenas letras, números, hífens e sublinhados.",
	stringHex: "O campo '{field}' deve ser hexadecimal.",
	stringSingleLine: "O campo '{field}' deve ter uma única linha.",
	stringBase64: "O campo '{field}' deve estar em base64.",
	number: "O campo '{field}' deve ser um número.",
	numberMin: "O campo '{field}' deve ser maior ou igual a {expected}.",
	numberMax: "O campo '{field}' deve ser menor ou igual a {expected}.",
	numberEqual: "O campo '{field}' deve ser igual a {expected}.",
	numberNotEqual: "O campo '{field}' não pode ser igual a {expected}.",
	numberInteger: "O campo '{field}' deve ser um número inteiro.",
	numberPositive: "O campo '{field}' deve ser um número positivo.",
	numberNegative: "O campo '{field}' deve ser um número negativo.",
	array: "O campo '{field}' deve ser uma lista.",
	arrayEmpty: "O campo '{field}' não pode ser uma lista vazia.",
	arrayMin: "O campo '{field}' deve ter pelo menos {expected} itens.",
	arrayMax: "O campo '{field}' deve ter no máximo {expected} itens.",
	arrayLength: "O campo '{field}' deve ter {expected} itens.",
	arrayContains: "O campo '{field}' deve conter o item '{expected}'.",
	arrayUnique: "O valor '{actual}' do campo '{field}' se repete.",
	arrayEnum: "O valor '{actual}' do campo '{field}' não é um de '{expected}'.",
	tuple: "O campo '{field}' deve ser uma lista.",
	tupleEmpty: "O campo '{field}' não pode ser uma lista vazia.",
	tupleLength: "O campo '{field}' deve ter {expected} itens.",
	boolean: "O campo '{field}' deve ser verdadeiro ou falso.",
	currency: "O campo '{field}' deve ser um valor monetário válido.",
	date: "O campo '{field}' deve ser uma data.",
	dateMin: "O campo '{field}' deve ser maior ou igual a {expected}.",
	dateMax: "O campo '{field}' deve ser menor ou igual a {expected}.",
	enumValue: "O valor '{actual}' do campo '{field}' não é um dos valores permitidos.",
	equalValue: "O campo '{field}' deve ser igual a '{expected}'.",
	equalField: "O campo '{field}' deve ser igual ao campo '{expected}'.",
	forbidden: "O campo '{field}' não é permitido.",
	function: "O campo '{field}' deve ser uma função.",
	email: "O campo '{field}' deve ser um e-mail válido.",
	emailEmpty: "O campo '{field}' não pode ficar vazio.",
	emailMin: "O campo '{field}' deve ter pelo menos {expected} caracteres.",
	emailMax: "O campo '{field}' deve ter no máximo {expected} caracteres.",
	luhn: "O campo '{field}' não tem um dígito verificador válido.",
	mac: "O campo '{field}' deve ser um endereço MAC válido.",
	object: "O campo '{field}' deve ser um objeto.",
	objectStrict: "O objeto '{field}' tem campos não permitidos: '{actual}'.",
	objectMinProps: "O objeto '{field}' deve ter pelo menos {expected} propriedades.",
	objectMaxProps: "O objeto '{field}' deve ter no máximo {expected} propriedades.",
	url: "O campo '{field}' deve ser uma URL válida.",
	urlEmpty: "O campo '{field}' não pode ficar vazio.",
	uuid: "O campo '{field}' deve ser um UUID válido.",
	uuidVersion: "O campo '{field}' deve ser um UUID da versão indicada.",
	classInstanceOf: "O campo '{field}' deve ser uma instância de '{expected}'.",
	objectID: "O campo '{field}' deve ser um ObjectID válido.",
	record: "O campo '{field}' deve ser um objeto.",
	passwordWeak:
		"A senha é fácil demais de adivinhar: use uma mais longa, por exemplo algumas palavras sem relação e um número",
	invalid: "O campo '{field}' não é válido.",
};

export const VALIDATION_MESSAGES: Record<Locale, Record<string, string>> = { "pt-BR": PT_BR_MESSAGES, en: EN_MESSAGES };

const show = (value: unknown): string =>
	value === undefined ? "" : typeof value === "object" && value !== null ? JSON.stringify(value) : String(value);

/** One validation problem's message in `locale`, or null when its rule type has no message there. */
export function validationMessage(
	problem: { type?: string; field?: string; expected?: unknown; actual?: unknown },
	locale: Locale,
): string | null {
	const template = problem.type ? VALIDATION_MESSAGES[locale][problem.type] : undefined;
	if (!template) return null;
	return template
		.replace(/\{field\}/g, problem.field ?? "")
		.replace(/\{expected\}/g, show(problem.expected))
		.replace(/\{actual\}/g, show(problem.actual));
}
