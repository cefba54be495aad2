export { paretoFront, readCurveCsv, parseAccuracy, type AccuracyUnit, curveSpec, renderSvg, svgToPng, renderCurvePlots, type CurvePoint, type PlotOptions, type PlotFiles } from './plot.js';
export { summarizeTrainRun, summarizeSearchRun, summarizeFinetuneRun, summarizeSweep, sweepRow, latencyLine, latencySummary, markdownTable, type TrainSummaryInput } from './summary.js';
