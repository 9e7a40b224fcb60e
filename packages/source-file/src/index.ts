/** `@ruletrail/source-file`: files (read or tailed, with checkpoints) and standard input. */
export { FileSource } from './file-source';
export { StdinSource } from './stdin-source';
export { expandGlobs, globToRegExp, isGlob } from './glob';
export { fileSourcePlugin, stdinSourcePlugin } from './plugin';
