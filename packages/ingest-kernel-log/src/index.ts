/**
 * Kernel-log ingest adapter: netfilter TRACE steps and `-j LOG` packet logs as the kernel's nf_log_syslog
 * prints them, in whatever framing the text arrived (syslog RFC 3164 / RFC 5424 / rsyslog high precision,
 * journald `short*`, dmesg, `/dev/kmsg`).
 */
export { kernelLogAdapter } from './adapter';
export {
  createKernelLogParser,
  parseKernelLogLine,
  KERNEL_LOG_ERROR_CODES,
  KERNEL_LINE_LIMIT_BYTES,
  type KernelLogLineParser,
  type KernelLogParserClock,
} from './line';
export { parseNfLogBody, NfLogSyntaxError, type NfLogBody } from './nflog';
export { kernelLogPlugin } from './plugin';
