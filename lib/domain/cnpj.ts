/**
 * CNPJ (Brazilian company registration number): 12 base characters and 2 check digits (mod 11).
 * Numeric CNPJs and the alphanumeric format the Receita Federal issues from July 2026 share one
 * rule: each character counts as its ASCII code minus 48, so digits keep their value.
 */

const FIRST_WEIGHTS = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
const SECOND_WEIGHTS = [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
const SHAPE = /^[0-9A-Z]{12}[0-9]{2}$/;

/** Upper case without the usual punctuation (12.345.678/0001-95 → 12345678000195). */
export function normalizeCnpj(input: string): string {
	return input
		.trim()
		.toUpperCase()
		.replace(/[./\-\s]/g, "");
}

function checkDigit(chars: string, weights: number[]): number {
	const sum = weights.reduce((acc, weight, i) => acc + (chars.charCodeAt(i) - 48) * weight, 0);
	const remainder = sum % 11;
	return remainder < 2 ? 0 : 11 - remainder;
}

/** The two check digits for 12 base characters. */
export function cnpjCheckDigits(base: string): string {
	const first = checkDigit(base, FIRST_WEIGHTS);
	const second = checkDigit(base + String(first), SECOND_WEIGHTS);
	return `${first}${second}`;
}

export function isValidCnpj(input: string): boolean {
	const cnpj = normalizeCnpj(input);
	if (!SHAPE.test(cnpj)) return false;
	if (/^(\d)\1{13}$/.test(cnpj)) return false; // 00000000000000 etc. pass the arithmetic but are not issued
	return cnpjCheckDigits(cnpj.slice(0, 12)) === cnpj.slice(12);
}

/** 12.345.678/0001-95 */
export function formatCnpj(input: string): string {
	const c = normalizeCnpj(input);
	return `${c.slice(0, 2)}.${c.slice(2, 5)}.${c.slice(5, 8)}/${c.slice(8, 12)}-${c.slice(12)}`;
}
