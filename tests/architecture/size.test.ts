import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Size limits of `src/` (STYLE: keep functions short, split a file that passes ~400 lines): no file
 * over 400 lines and no function over 60 lines, except the torch engine's kernel table (one entry
 * per TensorFlow.js kernel). Functions are found with the TypeScript parser: declarations, methods,
 * constructors, accessors, and function or arrow expressions.
 */
const FILE_LIMIT = 400;
const FUNCTION_LIMIT = 60;
const EXEMPT_FUNCTIONS = new Set(['engine/torch-kernels.ts:kernels']);

const src = resolve(__dirname, '..', '..', 'src');
const files = (dir: string): string[] =>
  readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });

function longFunctions(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  const visit = (node: ts.Node, name: string) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      const n = (node as ts.FunctionLikeDeclaration).name;
      const label = n && ts.isIdentifier(n) ? n.text : name;
      const key = `${relative(src, file)}:${label}`;
      if (end - start + 1 > FUNCTION_LIMIT && !EXEMPT_FUNCTIONS.has(key)) out.push(`${key} (line ${start + 1}): ${end - start + 1} lines`);
    }
    const childName = ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) ? node.name.text : ts.isPropertyAssignment(node) && ts.isIdentifier(node.name) ? node.name.text : name;
    ts.forEachChild(node, (c) => visit(c, childName));
  };
  visit(sf, '(anonymous)');
  return out;
}

describe('size limits', () => {
  it(`no file of src/ has more than ${FILE_LIMIT} lines`, () => {
    const long = files(src).map((f) => [relative(src, f), readFileSync(f, 'utf8').split('\n').length] as const).filter(([, n]) => n > FILE_LIMIT);
    expect(long).toEqual([]);
  });

  it(`no function of src/ has more than ${FUNCTION_LIMIT} lines (the torch kernel table excepted)`, () => {
    expect(files(src).flatMap(longFunctions)).toEqual([]);
  });
});
