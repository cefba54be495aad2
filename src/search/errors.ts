/** Raised when a search is stopped through its signal (the run folder keeps the finished phases). */
export class SearchStoppedError extends Error {
  constructor(readonly epoch: number, readonly step: number) {
    super(`search stopped at epoch ${epoch + 1}, step ${step}`);
    this.name = 'SearchStoppedError';
  }
}

/** Raised when a search's loss stops being finite. */
export class SearchDivergedError extends Error {
  constructor(readonly loss: number, readonly epoch: number, readonly step: number) {
    super(`search diverged: ${Number.isNaN(loss) ? 'the architecture parameters' : `the loss (${loss})`} stopped being finite at epoch ${epoch}${Number.isNaN(step) ? '' : `, step ${step}`}`);
    this.name = 'SearchDivergedError';
  }
}

