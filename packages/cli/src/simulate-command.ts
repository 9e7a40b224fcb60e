/**
 * `ruletrail simulate`: a packet's predicted path and verdict through a snapshot, without a trace — the same
 * output shape as `explain`, plus the branches an unknown criterion opens.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { InputError, UsageError } from '@ruletrail/core';
import { hostFactsFromJson } from '@ruletrail/ruleset';
import {
  ANSI,
  PLAIN,
  addressTyperOf,
  PacketSpecError,
  formatPacketSpec,
  parseAddress,
  parsePacketSpec,
  renderSimulation,
  simulate,
  type AddressTyper,
} from '@ruletrail/explain';
import { loadRules } from './rules-files';

export const SIMULATE_USAGE = `usage: ruletrail simulate --rules SNAPSHOT [--local ADDR]… [--host-facts FILE] [--format text|json] 'PACKET'

Predicts the path of one packet through a ruleset snapshot: hooks, tables in priority order, chains and rules,
with the verdict, the deciding rule, NAT rewrites and marks, in the shape of 'ruletrail explain'. Where a rule
depends on something the packet description does not say (an address type, a rate limit, an ipset, an
interface, the conntrack state), both answers are followed and shown as branches; the verdict is UNKNOWN unless
every branch agrees.

PACKET:  tcp 10.0.0.2:40000 > 10.0.0.4:52000 in eth0 [out eth1] [syn|ack|fin|rst|psh|urg…] [mark 0x10]
             [state new|established|related|invalid|untracked] [len N] [ttl N] [tos N]
         udp [fd00::2]:40000 > [fd00::4]:53 in eth0
         icmp 10.0.0.2 > 10.0.0.4 [type 8|echo-request] [code N]
A packet without 'in' from a local address is sent by the host (OUTPUT); 'out IFACE' forces a forward.

  --rules [ipv4:|ipv6:]FILE  iptables-save / ip6tables-save text or 'nft -j list ruleset' JSON (several: the one of
                             the packet's family is used)
  --local ADDR               an address of this host (repeat): local delivery and -m addrtype LOCAL. The list is
                             taken as complete; loopback is always local.
  --host-facts FILE          the host's addresses: a host-facts document ('ruletrail snapshot facts'), or the
                             array 'ip -j addr' prints
  --format text|json         text (default; coloured on a terminal) or one JSON object
  --max-branches N           stop exploring unknowns after N branches (default 64)
  --no-color                 plain text (also: NO_COLOR=1)

Exit status: 0 ok, 2 usage error (bad packet description, unreadable snapshot).`;

/** Runs `simulate`; returns the exit code. */
export async function simulateCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      rules: { type: 'string', multiple: true },
      local: { type: 'string', multiple: true },
      'host-facts': { type: 'string' },
      format: { type: 'string', default: 'text' },
      'max-branches': { type: 'string' },
      'no-color': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(SIMULATE_USAGE + '\n');
    return 0;
  }
  const format = values.format;
  if (format !== 'text' && format !== 'json')
    throw new UsageError(`--format must be text or json, got '${format}'`);
  if (!values.rules?.length) throw new UsageError('simulate needs --rules SNAPSHOT');
  if (positionals.length === 0)
    throw new UsageError(`no packet given (e.g. 'tcp 10.0.0.2:40000 > 10.0.0.4:80 in eth0 syn')`);
  let spec;
  try {
    // The packet may come as one quoted argument or as several words.
    spec = parsePacketSpec(positionals.join(' '));
  } catch (e) {
    if (e instanceof PacketSpecError) throw new UsageError(`packet: ${e.message}`);
    throw e;
  }
  const locals = values.local ?? [];
  for (const l of locals)
    if (!parseAddress(l)) throw new UsageError(`--local ${l}: not an IPv4 or IPv6 address`);
  let maxBranches: number | undefined;
  if (values['max-branches'] !== undefined) {
    maxBranches = Number(values['max-branches']);
    if (!Number.isInteger(maxBranches) || maxBranches < 1)
      throw new UsageError(`--max-branches must be a positive integer, got '${values['max-branches']}'`);
  }
  let facts: AddressTyper | undefined;
  const factsFile = values['host-facts'];
  if (factsFile !== undefined) {
    let text: string;
    try {
      text = await readFile(factsFile, 'utf8');
    } catch (e) {
      throw new UsageError(`--host-facts ${factsFile}: ${(e as Error).message}`);
    }
    try {
      // A host-facts document (`ruletrail snapshot facts`), or the bare array `ip -j addr` prints.
      const json = JSON.parse(text) as unknown;
      facts = addressTyperOf(
        hostFactsFromJson(Array.isArray(json) ? { version: 1, addr: json } : json, factsFile),
      );
    } catch (e) {
      if (e instanceof SyntaxError)
        throw new UsageError(`--host-facts ${factsFile}: not JSON (${e.message})`);
      if (e instanceof InputError) throw new UsageError(`--host-facts ${e.message}`);
      throw e;
    }
  }
  const snapshots = (await Promise.all(values.rules.map(loadRules))).flat();
  const rs = snapshots.find((s) => s.family === spec.family) ?? snapshots.find((s) => s.family === null);
  if (!rs)
    throw new UsageError(
      `no ${spec.family} snapshot among --rules ${values.rules.join(', ')} for a packet from ${spec.src}`,
    );
  const result = simulate(rs, spec, {
    locals,
    ...(facts ? { facts } : {}),
    ...(maxBranches !== undefined ? { maxBranches } : {}),
  });
  if (format === 'json') process.stdout.write(JSON.stringify(result) + '\n');
  else {
    const colour =
      !values['no-color'] && !process.env.NO_COLOR && (process.stdout.isTTY || !!process.env.FORCE_COLOR);
    process.stdout.write(renderSimulation(result, formatPacketSpec(spec), colour ? ANSI : PLAIN) + '\n');
  }
  return 0;
}
