/**
 * How each verdict looks: a colour and, for readers who cannot tell the colours apart, a symbol and an SVG fill
 * pattern (solid, hatched, crossed, dotted, striped) used in the chart and the legend alike.
 */

export interface VerdictLook {
  readonly colour: string;
  readonly symbol: string;
  /** id of the SVG pattern that fills the verdict's chart bars. */
  readonly pattern: string;
}

export const VERDICT_ORDER = ['ACCEPT', 'DROP', 'REJECT', 'QUEUE', 'UNKNOWN'] as const;

const LOOKS: Record<string, VerdictLook> = {
  ACCEPT: { colour: '#1a7f37', symbol: '✔', pattern: 'pat-ACCEPT' },
  DROP: { colour: '#cf222e', symbol: '✖', pattern: 'pat-DROP' },
  REJECT: { colour: '#bc4c00', symbol: '⊘', pattern: 'pat-REJECT' },
  QUEUE: { colour: '#8250df', symbol: '⧗', pattern: 'pat-QUEUE' },
  UNKNOWN: { colour: '#57606a', symbol: '?', pattern: 'pat-UNKNOWN' },
};

/** The look of a verdict; a verdict added to the contract later gets the UNKNOWN look. */
export function look(verdict: string): VerdictLook {
  return LOOKS[verdict] ?? LOOKS.UNKNOWN!;
}

/** A class-safe name for a verdict (the contract's values are upper-case words; anything else is `OTHER`). */
export function verdictClass(verdict: string): string {
  return /^[A-Z]+$/.test(verdict) ? verdict : 'OTHER';
}

/** SVG `<defs>` with one fill pattern per verdict, emitted once per page in a hidden SVG and referenced by id. */
export function verdictPatterns(): string {
  const p = (id: string, colour: string, body: string) =>
    `<pattern id="${id}" width="6" height="6" patternUnits="userSpaceOnUse"><rect width="6" height="6" fill="${colour}" fill-opacity="0.35"/>${body}</pattern>`;
  return (
    '<defs>' +
    `<pattern id="pat-ACCEPT" width="6" height="6" patternUnits="userSpaceOnUse"><rect width="6" height="6" fill="${LOOKS.ACCEPT!.colour}"/></pattern>` +
    p(
      'pat-DROP',
      LOOKS.DROP!.colour,
      `<path d="M0,6 L6,0" stroke="${LOOKS.DROP!.colour}" stroke-width="2"/>`,
    ) +
    p(
      'pat-REJECT',
      LOOKS.REJECT!.colour,
      `<path d="M0,0 L6,6 M0,6 L6,0" stroke="${LOOKS.REJECT!.colour}" stroke-width="1.5"/>`,
    ) +
    p('pat-QUEUE', LOOKS.QUEUE!.colour, `<circle cx="3" cy="3" r="1.6" fill="${LOOKS.QUEUE!.colour}"/>`) +
    p(
      'pat-UNKNOWN',
      LOOKS.UNKNOWN!.colour,
      `<path d="M0,3 L6,3" stroke="${LOOKS.UNKNOWN!.colour}" stroke-width="1.5"/>`,
    ) +
    '</defs>'
  );
}
