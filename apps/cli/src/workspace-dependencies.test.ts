import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// What `npm ci --omit=dev` (the images) installs must run every process: each package a
// workspace's non-test source imports at run time is in that workspace's `dependencies`, and
// type-only packages (`@types/*`) are never there.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const WORKSPACES = ['apps', 'packages'].flatMap((group) => readdirSync(join(ROOT, group)).map((name) => join(group, name))).filter((dir) => {
  try {
    return statSync(join(ROOT, dir, 'package.json')).isFile();
  } catch {
    return false;
  }
});
/** Test files (vitest's include patterns, and the slow suite's), and fixtures run by tests only (`*.fixture.ts`). */
const TEST_FILE = /\.(test|int\.test|e2e\.test|slow\.test|fixture)\.[cm]?tsx?$/;
/** Directories of inputs, not of the workspace's code: the fix corpus's broken repositories. */
const NOT_CODE = ['apps/cli/src/eval/fix-corpus'];

interface PackageJson {
  name: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' || NOT_CODE.includes(relative(ROOT, path)) ? [] : sourceFiles(path);
    return /\.(ts|tsx|mts|mjs|js)$/.test(entry.name) && !entry.name.endsWith('.d.ts') && !TEST_FILE.test(entry.name) ? [path] : [];
  });
}

/** The package an import specifier names (`@scope/name/sub` → `@scope/name`), or `null` for relative paths and Node built-ins. */
function packageOf(specifier: string): string | null {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:') || builtinModules.includes(specifier)) return null;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/**
 * The packages a file imports when it runs: static imports and re-exports that are not
 * type-only, and `import('x')` calls; `import type`, `import { type A }` only, and `import('x').T`
 * in a type position are left out (they vanish at run time).
 */
function runtimeImports(path: string): string[] {
  const source = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const typeOnly =
        clause?.isTypeOnly ||
        (clause && !clause.name && clause.namedBindings && ts.isNamedImports(clause.namedBindings) && clause.namedBindings.elements.length > 0 && clause.namedBindings.elements.every((e) => e.isTypeOnly));
      if (!typeOnly) found.push(node.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const typeOnly = node.isTypeOnly || (node.exportClause && ts.isNamedExports(node.exportClause) && node.exportClause.elements.every((e) => e.isTypeOnly));
      if (!typeOnly) found.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      // import('x'), require('x') (createRequire), and require.resolve('x') / import.meta.resolve('x').
      const callee = node.expression;
      const loads =
        callee.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(callee) && callee.text === 'require') ||
        (ts.isPropertyAccessExpression(callee) && callee.name.text === 'resolve' && (ts.isIdentifier(callee.expression) || ts.isMetaProperty(callee.expression)));
      if (loads) found.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found.map(packageOf).filter((p): p is string => p !== null);
}

const ROOT_PACKAGE = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;
const workspaces = WORKSPACES.map((dir) => ({ dir, pkg: JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')) as PackageJson }));

describe('workspace dependencies', () => {
  it('finds the workspaces and their code', () => {
    expect(workspaces.map((w) => w.dir)).toEqual(expect.arrayContaining(['apps/cli', 'apps/ingest', 'apps/worker', 'packages/core']));
    expect(runtimeImports(join(ROOT, 'apps/cli/src/cli.ts'))).toContain('commander');
  });

  it('keeps @types/* out of every runtime dependencies', () => {
    const typesInDependencies = workspaces.flatMap(({ dir, pkg }) => Object.keys(pkg.dependencies ?? {}).filter((name) => name.startsWith('@types/')).map((name) => `${dir}: ${name}`));
    expect(typesInDependencies).toEqual([]);
  });

  it('declares in dependencies every package the non-test source imports at run time', () => {
    const undeclared: string[] = [];
    for (const { dir, pkg } of workspaces) {
      // The testkit runs under the root's vitest (its globalSetup), so it may use the root's
      // devDependencies (vitest itself); declaring vitest would put it in every image, since
      // `npm ci --omit=dev` installs every workspace's dependencies.
      const declared = new Set([pkg.name, ...Object.keys(pkg.dependencies ?? {}), ...(dir === 'packages/testkit' ? Object.keys(ROOT_PACKAGE.devDependencies ?? {}) : [])]);
      for (const file of codeFiles(dir)) {
        for (const name of new Set(runtimeImports(file))) if (!declared.has(name)) undeclared.push(`${relative(ROOT, file)}: ${name}`);
      }
    }
    expect(undeclared).toEqual([]);
  });

  it('keeps test tooling out of runtime dependencies unless non-test source runs it', () => {
    const misplaced: string[] = [];
    for (const { dir, pkg } of workspaces) {
      const imported = new Set(codeFiles(dir).flatMap(runtimeImports));
      for (const name of Object.keys(pkg.dependencies ?? {})) if (TEST_TOOLING.includes(name) && !imported.has(name)) misplaced.push(`${dir}: ${name}`);
    }
    expect(misplaced).toEqual([]);
  });

  it('lets the CLI run the testkit files it imports at run time (the fake LLM of the benches) without the test tooling', () => {
    const testkit = workspaces.find((w) => w.dir === 'packages/testkit')!.pkg;
    const fakeLlm = runtimeImports(join(ROOT, 'packages/testkit/src/fake-llm.ts'));
    expect(fakeLlm.filter((name) => !(name in (testkit.dependencies ?? {})))).toEqual([]);
  });
});

/** Packages only tests, checks and builds run. */
const TEST_TOOLING = ['vitest', 'playwright-core', 'eslint', 'prettier', 'typescript', 'turbo', 'esbuild'];

/** A workspace's non-test code: `src/` and `bin/`. */
function codeFiles(dir: string): string[] {
  return ['src', 'bin'].map((sub) => join(ROOT, dir, sub)).filter(existsDir).flatMap(sourceFiles);
}

function existsDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
