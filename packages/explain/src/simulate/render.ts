/** `simulate`'s text output, in the explain renderer's colours and step lines. */
import { stepLine, type Palette } from '../render-text';
import type { Simulation, SimulatedStep, SimulationBranch } from './simulate';

function steps(list: readonly SimulatedStep[], c: Palette, indent: string): string[] {
  const out: string[] = [];
  for (const s of list) {
    for (const l of stepLine({ ...s, origin: { file: 'simulate' } }, c)) out.push(indent + l);
    if (s.assumed?.length) out.push(`${indent}    ${c.yellow(`assumed: ${s.assumed.join('; ')}`)}`);
  }
  return out;
}

function verdictLine(v: string, cause: string, c: Palette, indent: string): string {
  return `${indent}  ${(v === 'ACCEPT' ? c.green : c.red)(`=> ${v}`)}: ${cause}`;
}

/** Renders a simulation as text lines (no trailing newline). */
export function renderSimulation(x: Simulation, packetText: string, c: Palette): string {
  const s = x.snapshot;
  const lines = [
    c.bold(`simulated: ${packetText}`),
    `  ${c.gray(`snapshot ${s.source}${s.generatedAt ? ` (${s.generatedAt})` : ''} sha256:${s.hash.slice(0, 12)}`)}`,
  ];
  if (!x.branches) {
    lines.push(...steps(x.steps, c, ''));
  } else {
    if (x.steps.length) lines.push(`  ${c.gray('every branch:')}`, ...steps(x.steps, c, ''));
    x.branches.forEach((b: SimulationBranch, i) => {
      const assumed = b.assumptions.map((a) => `${a.criterion}: ${a.answer}`).join('; ');
      lines.push(`  ${c.bold(`branch ${i + 1}`)} ${c.yellow(`(if ${assumed})`)}`);
      lines.push(...steps(b.steps.slice(x.steps.length), c, '  '));
      lines.push(verdictLine(b.verdict, b.cause, c, '  '));
    });
  }
  lines.push(verdictLine(x.verdict, x.cause, c, ''));
  for (const u of x.unknowns)
    lines.push(
      `  ${c.yellow(`unknown: ${u.criterion}${u.at ? ` (${u.at.table} ${u.at.chain} rule ${u.at.rulenum})` : ''} depends on ${u.dependsOn}`)}`,
    );
  if (x.flags.length) lines.push(`  ${c.yellow(`flags: ${x.flags.join(', ')}`)}`);
  return lines.join('\n');
}
