// Hand-written: run async work over many inputs with at most `limit` in flight, keeping order.

export type Settled<T> = { ok: true; value: T } | { ok: false; error: Error };

export async function settleAll<I, T>(
	inputs: I[],
	limit: number,
	work: (input: I, index: number) => Promise<T>,
): Promise<Array<Settled<T>>> {
	const results: Array<Settled<T>> = new Array(inputs.length);
	let next = 0;
	const worker = async () => {
		while (next < inputs.length) {
			const index = next++;
			try {
				results[index] = { ok: true, value: await work(inputs[index], index) };
			} catch (error) {
				results[index] = { ok: false, error: error instanceof Error ? error : new Error(String(error)) };
			}
		}
	};
	const width = Math.max(1, Math.min(Math.floor(limit) || 1, inputs.length));
	await Promise.all(Array.from({ length: width }, worker));
	return results;
}
