/**
 * Acknowledgement tracking: which input positions may be checkpointed.
 *
 * A source cuts its input into segments (a run of complete lines of a file, one Kafka message) in input order,
 * each ending at a resume position. The pipeline retains a segment once per trace event decoded from it and
 * releases it when that event's packet reached a final status in every sink. Packets span lines (and lines of
 * one segment belong to several packets), so a segment is done only when it is sealed (fully decoded) and
 * nothing retains it; the checkpoint is the end of the longest run of done segments from the start. Lines that
 * were skipped or dead-lettered retain nothing. A crash replays from the checkpoint: at-least-once.
 */

/** A contiguous piece of input ending at `end` (a byte offset, a Kafka offset + 1…). */
export class Segment {
  /** Retains not yet released. */
  pending = 0;
  /** Fully decoded: no more retains will come. */
  sealed = false;

  constructor(
    readonly tracker: OffsetTracker,
    /** Resume position after this segment. */
    readonly end: number,
    /** A second position that moves with `end` (the line number of a file offset); 0 when unused. */
    readonly mark = 0,
  ) {}

  /** Held by `n` more records. */
  retain(n = 1): void {
    this.pending += n;
  }

  /** `n` records reached a final status. */
  release(n = 1): void {
    this.pending -= n;
    if (this.pending <= 0 && this.sealed) this.tracker.settle();
  }

  /** Decoding finished: the segment is done once nothing retains it. */
  seal(): void {
    this.sealed = true;
    if (this.pending <= 0) this.tracker.settle();
  }

  get done(): boolean {
    return this.sealed && this.pending <= 0;
  }
}

/** The ordered segments of one input and the position safe to resume from. */
export class OffsetTracker {
  private _queue: Segment[] = [];
  private _head = 0;
  private _committed: number;
  private _committedMark: number;

  /**
   * @param start the position already checkpointed (where reading started)
   * @param onAdvance called when the resume position moves forward
   * @param startMark the second position at `start`
   */
  constructor(
    start: number,
    private readonly _onAdvance?: (position: number, mark: number) => void,
    startMark = 0,
  ) {
    this._committed = start;
    this._committedMark = startMark;
  }

  /** The second position (e.g. line number) at `committed`. */
  get committedMark(): number {
    return this._committedMark;
  }

  /** Resume position: everything before it reached a final status in every sink. */
  get committed(): number {
    return this._committed;
  }

  /** Segments opened but not yet done. */
  get outstanding(): number {
    return this._queue.length - this._head;
  }

  /** Opens the next segment of the input, ending at `end`. Segments must be opened in input order. */
  open(end: number, mark = 0): Segment {
    const s = new Segment(this, end, mark);
    this._queue.push(s);
    return s;
  }

  /** Moves the resume position over every leading done segment. Called by segments. */
  settle(): void {
    let moved = false;
    while (this._head < this._queue.length && this._queue[this._head]!.done) {
      this._committed = this._queue[this._head]!.end;
      this._committedMark = this._queue[this._head]!.mark;
      this._head++;
      moved = true;
    }
    // Compact now and then, so the array does not grow with the input.
    if (this._head > 1024 && this._head * 2 > this._queue.length) {
      this._queue = this._queue.slice(this._head);
      this._head = 0;
    }
    if (moved) this._onAdvance?.(this._committed, this._committedMark);
  }
}
