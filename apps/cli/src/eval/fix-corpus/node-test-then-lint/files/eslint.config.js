export default [
  {
    files: ['**/*.js'],
    languageOptions: { ecmaVersion: 2022, sourceType: 'module' },
    rules: { 'prefer-const': 'error', 'no-unused-vars': 'error', eqeqeq: 'error' },
  },
];
