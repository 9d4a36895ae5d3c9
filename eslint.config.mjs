// Lint: typescript-eslint recommended rules, plus the architectural rule that keeps the core pure:
// only the VS Code layer (src/vscode, src/extension.ts) and the in-editor tests may import `vscode`.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'dist-bench/**', 'node_modules/**', '.vscode-test/**', 'test-results/**', '**/*.js', '**/*.mjs'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-console': 'off',
    },
  },
  {
    files: ['src/**/*.ts', 'bench/**/*.ts', 'test/unit/**/*.ts', 'test/support/**/*.ts', 'test/fakes/**/*.ts', 'media/**/*.ts'],
    ignores: ['src/vscode/**', 'src/extension.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'vscode', message: 'The core is pure: only src/vscode/ and src/extension.ts may import vscode.' }] }],
    },
  },
);
