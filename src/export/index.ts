export { ArchitectureSchema, loadArchitecture, architectureNetwork, uniformArchitecture, type Architecture } from './architecture.js';
export { exportArchitecture, loadExportedArchitecture, packMask, unpackMask, type PackedMask, type ExportOptions } from './export.js';
