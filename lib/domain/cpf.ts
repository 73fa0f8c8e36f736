/**
 * CPF (Brazilian individual taxpayer number): 9 base digits and 2 check digits (mod 11), written
 * 123.456.789-09. Used for "CPF na nota": the customer's CPF printed on the order's receipt.
 */

const SHAPE = /^\d{11}$/;

/** Digits only (123.456.789-09 → 12345678909). */
export function normalizeCpf(input: string): string {
	return input.trim().replace(/[.\-\s]/g, "");
}

function checkDigit(digits: string): number {
	const weightStart = digits.length + 1;
	const sum = [...digits].reduce((acc, d, i) => acc + Number(d) * (weightStart - i), 0);
	const remainder = (sum * 10) % 11;
	return remainder === 10 ? 0 : remainder;
}

/** The two check digits for 9 base digits. */
export function cpfCheckDigits(base: string): string {
	const first = checkDigit(base);
	return `${first}${checkDigit(base + String(first))}`;
}

export function isValidCpf(input: string): boolean {
	const cpf = normalizeCpf(input);
	if (!SHAPE.test(cpf)) return false;
	if (/^(\d)\1{10}$/.test(cpf)) return false; // 000.000.000-00 etc. pass the arithmetic but are not issued
	return cpfCheckDigits(cpf.slice(0, 9)) === cpf.slice(9);
}

/** 123.456.789-09 */
export function formatCpf(input: string): string {
	const c = normalizeCpf(input);
	return `${c.slice(0, 3)}.${c.slice(3, 6)}.${c.slice(6, 9)}-${c.slice(9)}`;
}

/** Shown to people who need only to recognise it: ***.456.789-** */
export function maskCpf(input: string): string {
	const c = normalizeCpf(input);
	return `***.${c.slice(3, 6)}.${c.slice(6, 9)}-**`;
}
