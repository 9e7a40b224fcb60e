/**
 * Waiting on a condition instead of a fixed sleep: a test waits exactly as long as the code under test needs
 * (fast on an idle machine, still correct on a loaded one) and fails with what it waited for.
 */

/** Polls `cond` (which may be async) every `intervalMs` until it is true, or throws after `ms`. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  ms: number,
  what: string,
  intervalMs = 10,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
