export { paretoFront, readCurveCsv, curveSpec, renderSvg, svgToPng, renderCurvePlots, type CurvePoint, type PlotOptions, type PlotFiles } from './plot.js';
