/** The seed's output (lib/infra/seed-progress.ts): a progress bar on a terminal, lines elsewhere. */
import { seedOutput } from "../../lib/infra/seed-progress";
import { SEED_STEPS } from "../../lib/infra/seed";

function fakeStream(isTTY: boolean) {
	const written: string[] = [];
	const stream = {
		isTTY,
		columns: 120,
		write: (chunk: string) => {
			written.push(String(chunk));
			return true;
		},
		cursorTo: () => true,
		clearLine: () => true,
		moveCursor: () => true,
		on: () => stream,
		removeListener: () => stream,
	};
	return { stream: stream as unknown as NodeJS.WriteStream, text: () => written.join("") };
}

test("on a terminal: a bar over SEED_STEPS that moves with each step and ends full; step lines are not printed", () => {
	const { stream, text } = fakeStream(true);
	const out = seedOutput(stream);
	out.log!("[fornecedor 1/6] Gás Vila Mariana created");
	out.step!("Gás Vila Mariana");
	out.step!("Gás Pinheiros");
	out.done();
	expect(text()).toMatch(new RegExp(`Seeding .* 0/${SEED_STEPS}`));
	expect(text()).toMatch(new RegExp(`${SEED_STEPS}/${SEED_STEPS} \\| ok`));
	expect(text()).not.toMatch(/\[fornecedor 1\/6\]/);
});

test("elsewhere: one line per step, no bar", () => {
	const { stream, text } = fakeStream(false);
	const out = seedOutput(stream);
	out.log!("[cliente 1/8] Maria exists, 2 orders");
	expect(out.step).toBeUndefined();
	out.done();
	expect(text()).toBe("[cliente 1/8] Maria exists, 2 orders\n");
});
