// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "drizzle/", ".data/", "coverage/", "dist/", "dist-*/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  // Plain JavaScript entry points (bin/, scripts/) run on Node.
  { files: ["**/*.js"], languageOptions: { globals: { process: "readonly", URL: "readonly", console: "readonly" } } },
  {
    files: ["**/*.ts", "**/*.tsx"],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A promise nobody awaits loses its error: every one must be awaited, returned or voided.
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: { arguments: false } }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
);
