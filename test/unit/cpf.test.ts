import { cpfCheckDigits, formatCpf, isValidCpf, maskCpf, normalizeCpf } from "../../lib/domain/cpf";

describe("CPF", () => {
	test("accepts CPFs with correct check digits, formatted or not", () => {
		expect(isValidCpf("529.982.247-25")).toBe(true);
		expect(isValidCpf("52998224725")).toBe(true);
		expect(isValidCpf(" 529 982 247 25 ")).toBe(true);
		expect(cpfCheckDigits("529982247")).toBe("25");
	});

	test("rejects a wrong first or second check digit, wrong shapes and repeated digits", () => {
		for (const bad of [
			"529.982.247-35",
			"529.982.247-24",
			"",
			"5299822472",
			"529982247250",
			"abc.def.ghi-jk",
			"111.111.111-11",
			"00000000000",
		])
			expect(`${bad}: ${isValidCpf(bad)}`).toBe(`${bad}: false`);
	});

	test("a check digit from remainder 10 is 0", () => {
		// 100.000.001-08: first digit's remainder is 10 → 0
		expect(cpfCheckDigits("100000001")[0]).toBe("0");
		expect(isValidCpf(`100000001${cpfCheckDigits("100000001")}`)).toBe(true);
	});

	test("normalizes, formats and masks", () => {
		expect(normalizeCpf("529.982.247-25")).toBe("52998224725");
		expect(formatCpf("52998224725")).toBe("529.982.247-25");
		expect(maskCpf("52998224725")).toBe("***.982.247-**");
	});
});
