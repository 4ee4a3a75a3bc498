export { extractFailureContext, DEFAULT_BUDGET, type FailureContext, type ExtractOptions } from './extract.ts';
export { type ExcerptBudget, MAX_LINE_CHARS, GAP, excerptLineNumbers } from './excerpt.ts';
export { keywordBaseline, tailBaseline, BASELINE_KEYWORDS } from './baselines.ts';
export { normalizeForSignature, failureSignature } from './signature.ts';
export { stripAnsi, cleanLine, normalizeVolatile, parseLog, splitRawLines, type RawLine } from './lines.ts';
export { scoreLine, type LineScore, type LineRole } from './score.ts';
export { detectStructure, type LogStructure, type Span, type Step } from './structure.ts';
export { findFindings, findingOf, formOf, fileOf, type Finding, type FindingKind } from './findings.ts';
