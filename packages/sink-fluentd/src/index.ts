/** Fluentd forward-protocol sink (fluent-logger, with acknowledgements) behind the ruletrail sink interface. See docs/sinks.md. */
export { FluentdSink, fluentdPayload, type FluentdSinkOptions } from './sink';
export {
  FLUENTD_DEFAULTS,
  validateFluentdConfig,
  type FluentdSinkConfig,
  type FluentdTlsConfig,
} from './config';
export { fluentdSinkPlugin } from './plugin';
