export { ArchitectureSchema, loadArchitecture, architectureNetwork, uniformArchitecture, type Architecture } from './architecture.js';
