export {
  toArchitecture,
  writeArchitecture,
  readArchitecture,
  rebuildArchitecture,
  loadArchitecture,
  architectureFiles,
  type ArchitectureContext,
} from './architecture.js';
export { siteChoicesOf, uniformChoices } from './choices.js';
