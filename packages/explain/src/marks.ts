/**
 * Packet marks: which bits a rule sets (MARK/CONNMARK targets) and which bits a rule matches (`-m mark`).
 * Numbers are unsigned 32-bit.
 */
import { findOption, targetOption, type Rule } from '@ruletrail/ruleset';

/** A `value/mask` pair. */
export interface MarkSpec {
  readonly value: number;
  readonly mask: number;
}

/** `0x8000/0x8000` or `0x8000` (mask 0xffffffff). */
export function parseMarkSpec(text: string): MarkSpec | undefined {
  const slash = text.indexOf('/');
  const value = Number(slash < 0 ? text : text.slice(0, slash));
  const mask = slash < 0 ? 0xffffffff : Number(text.slice(slash + 1));
  if (!Number.isInteger(value) || !Number.isInteger(mask)) return undefined;
  return { value: value >>> 0, mask: mask >>> 0 };
}

/** Hex as iptables prints it. */
export function hex(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}

/** The bits a MARK target changes, or undefined when the rule does not set the packet mark. */
export function markSetByRule(rule: Rule): MarkSpec | undefined {
  if (rule.target === 'MARK') {
    const x = targetOption(rule, 'set-xmark') ?? targetOption(rule, 'set-mark');
    if (x?.values[0]) return parseMarkSpec(x.values[0]);
    const or = targetOption(rule, 'or-mark');
    if (or?.values[0]) {
      const v = Number(or.values[0]) >>> 0;
      return { value: v, mask: v };
    }
    const and = targetOption(rule, 'and-mark');
    if (and?.values[0]) {
      const v = Number(and.values[0]) >>> 0;
      return { value: 0, mask: ~v >>> 0 };
    }
  }
  if (rule.target === 'CONNMARK' && targetOption(rule, 'restore-mark')) {
    const m = targetOption(rule, 'nfmask') ?? targetOption(rule, 'mask');
    return { value: 0, mask: m?.values[0] ? Number(m.values[0]) >>> 0 : 0xffffffff };
  }
  return undefined;
}

/** The mark a rule matches on (`-m mark --mark V/M`), with its negation. */
export function markMatchOf(rule: Rule): (MarkSpec & { readonly negated: boolean }) | undefined {
  const o = findOption(rule, 'mark', 'mark');
  if (!o?.values[0]) return undefined;
  const spec = parseMarkSpec(o.values[0]);
  return spec ? { ...spec, negated: o.negated } : undefined;
}
