/**
 * CPF (Brazilian individual taxpayer number): 9 base digits and 2 check digits (mod 11, weights
 * 10..2 then 11..2). The standard algorithm; sequences of one repeated digit pass the arithmetic but
 * are never issued, so they are refused.
 */

/** Digits only (529.982.247-25 → 52998224725). */
export function normalizeCpf(input: string): string {
	return input.trim().replace(/[.\-\s]/g, "");
}

function checkDigit(digits: string, firstWeight: number): number {
	let sum = 0;
	for (let i = 0; i < digits.length; i++) sum += Number(digits[i]) * (firstWeight - i);
	const remainder = (sum * 10) % 11;
	return remainder === 10 ? 0 : remainder;
}

/** The two check digits for 9 base digits. */
export function cpfCheckDigits(base: string): string {
	const first = checkDigit(base, 10);
	const second = checkDigit(base + String(first), 11);
	return `${first}${second}`;
}

export function isValidCpf(input: string): boolean {
	const cpf = normalizeCpf(input);
	if (!/^\d{11}$/.test(cpf)) return false;
	if (/^(\d)\1{10}$/.test(cpf)) return false;
	return cpfCheckDigits(cpf.slice(0, 9)) === cpf.slice(9);
}

/** 529.982.247-25 */
export function formatCpf(input: string): string {
	const c = normalizeCpf(input);
	return `${c.slice(0, 3)}.${c.slice(3, 6)}.${c.slice(6, 9)}-${c.slice(9)}`;
}

/** Only the middle digits shown (***.982.247-**), as receipts and reports print it. */
export function maskCpf(input: string): string {
	const c = normalizeCpf(input);
	return `***.${c.slice(3, 6)}.${c.slice(6, 9)}-**`;
}
