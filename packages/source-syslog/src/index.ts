/** `@ruletrail/source-syslog`: the syslog receiver (UDP, TCP; RFC 3164 / 5424; octet counting). */
export { SyslogSource } from './syslog-source';
export { TcpFramer } from './framing';
export { syslogSourcePlugin } from './plugin';
