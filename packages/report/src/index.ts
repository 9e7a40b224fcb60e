/**
 * HTML reports of explained packets: `ruletrail explain --format html` and `ruletrail report FILE.ndjson`.
 * One self-contained page (inline SVG, CSS and script; no network fetch), written in bounded memory.
 */
export { HtmlReport, REPORT_DEFAULTS, pathSignature, type ReportOptions, type ReportStats } from './report';
export { parseExplanationLine, type ParsedRecord } from './input';
export { renderJourney, packetLine } from './journey';
export { html, attr, visibleEscape } from './escape';
export { TopCounter, TimeBuckets } from './aggregate';
