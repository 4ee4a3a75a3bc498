export default [
  {
    files: ['**/*.js'],
    languageOptions: { ecmaVersion: 2022, sourceType: 'module' },
    rules: { 'no-var': 'error', 'prefer-const': 'error', 'object-shorthand': 'error' },
  },
];
