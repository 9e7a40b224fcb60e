/** Errors of `ruletrail trace` that the operator must act on (printed as one message; exit status 1). */
export class TraceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TraceError';
  }
}

/**
 * Turns the stderr of a failed TRACE rule insert into the reason an operator can act on. `iptables` reports a
 * missing target module in several wordings across versions.
 */
export function explainInsertFailure(tool: string, stderr: string, netns: string | undefined): string {
  const e = stderr.trim();
  if (
    /TRACE/.test(e) &&
    /(No chain\/target\/match|Couldn't load target|Extension TRACE|unknown option|not found)/i.test(e)
  )
    return `${tool}: the kernel has no TRACE target (xt_TRACE, CONFIG_NETFILTER_XT_TARGET_TRACE): try 'modprobe xt_TRACE' (${e})`;
  if (/limit/.test(e) && /(No chain\/target\/match|Couldn't load match)/i.test(e))
    return `${tool}: the kernel has no limit match (xt_limit): try 'modprobe xt_limit' (${e})`;
  if (/comment/.test(e) && /(No chain\/target\/match|Couldn't load match)/i.test(e))
    return `${tool}: the kernel has no comment match (xt_comment): try 'modprobe xt_comment' (${e})`;
  if (/can't initialize|Table does not exist|raw/i.test(e) && /raw/.test(e))
    return `${tool}: the raw table is not available (iptable_raw / ip6table_raw): try 'modprobe iptable_raw' (${e})`;
  if (/Permission denied|Operation not permitted/i.test(e))
    return `${tool}: not allowed to change the rules${netns ? ` in netns ${netns}` : ''}: run as root (${e})`;
  return `${tool} could not add the TRACE rule: ${e}`;
}
