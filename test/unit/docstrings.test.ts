import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/** Every .ts file below `dir`. */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/**
 * Exported declarations of src/ without a docstring: functions, classes, interfaces, types,
 * constants, every interface member, and the methods of exported classes that implement no
 * interface (those of one are documented on the interface).
 */
function undocumented(): string[] {
  const missing: string[] = [];
  for (const file of sources('src')) {
    const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
    const where = (n: ts.Node): string => `${file}:${sf.getLineAndCharacterOfPosition(n.getStart()).line + 1}`;
    const documented = (n: ts.Node): boolean => ts.getJSDocCommentsAndTags(n).length > 0;
    const exported = (n: ts.Node): boolean => (ts.getCombinedModifierFlags(n as ts.Declaration) & ts.ModifierFlags.Export) !== 0;
    const visit = (n: ts.Node): void => {
      if ((ts.isFunctionDeclaration(n) || ts.isClassDeclaration(n) || ts.isInterfaceDeclaration(n) || ts.isTypeAliasDeclaration(n)) && exported(n)) {
        if (!documented(n)) missing.push(`${where(n)} ${n.name?.text ?? '(default)'}`);
        if (ts.isInterfaceDeclaration(n)) for (const m of n.members) if (!documented(m)) missing.push(`${where(m)} ${n.name.text}.${m.name?.getText() ?? '(call)'}`);
        const implementsSome = ts.isClassDeclaration(n) && (n.heritageClauses ?? []).some((h) => h.token === ts.SyntaxKind.ImplementsKeyword);
        if (ts.isClassDeclaration(n) && !implementsSome) {
          for (const m of n.members) {
            const isPrivate = (ts.getCombinedModifierFlags(m as ts.Declaration) & ts.ModifierFlags.Private) !== 0;
            if (ts.isMethodDeclaration(m) && !isPrivate && !documented(m)) missing.push(`${where(m)} ${n.name?.text}.${m.name.getText()}`);
          }
        }
      }
      if (ts.isVariableStatement(n) && exported(n) && !documented(n)) missing.push(`${where(n)} ${n.declarationList.declarations[0]!.name.getText()}`);
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return missing;
}

describe('the code says what it does', () => {
  it('documents every exported function, class, type, constant and interface member of src/', () => {
    expect(undocumented()).toEqual([]);
  });

  it('keeps every file of src/ to about 350 lines', () => {
    const long = sources('src')
      .map((f) => [f, readFileSync(f, 'utf8').split('\n').length] as const)
      .filter(([, n]) => n > 360);
    expect(long).toEqual([]);
  });
});
