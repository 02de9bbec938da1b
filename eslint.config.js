// Lint: typescript-eslint's recommended rules plus vitest's rules that keep focused or
// skipped tests out of main (a `.only` would silently hide the rest of the suite).
import tseslint from 'typescript-eslint';
import vitest from '@vitest/eslint-plugin';

export default tseslint.config(
  { ignores: ['node_modules/**', 'cdk.out/**', '.roster/**', 'coverage/**', 'bench-results/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    files: ['test/**/*.ts'],
    plugins: { vitest },
    rules: {
      ...vitest.configs.recommended.rules,
      'vitest/no-focused-tests': 'error',
      'vitest/no-disabled-tests': 'error',
      'vitest/expect-expect': ['error', { assertFunctionNames: ['expect', 'expect*', 'assert*'] }],
      // Tests read JSON answers of any shape.
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
);
