// Prints the path of the stock libFuzzer static library to link (LIBFUZZER_A, else the newest Debian libclang-rt-N-dev).
const fs = require('node:fs');
const path = require('node:path');

const LIB = 'libclang_rt.fuzzer_no_main-x86_64.a';
function find() {
  if (process.env.LIBFUZZER_A) return process.env.LIBFUZZER_A;
  const found = [];
  for (const llvm of fs.readdirSync('/usr/lib').filter((d) => /^llvm-\d+$/.test(d))) {
    const clang = path.join('/usr/lib', llvm, 'lib', 'clang');
    if (!fs.existsSync(clang)) continue;
    for (const ver of fs.readdirSync(clang)) {
      const file = path.join(clang, ver, 'lib', 'linux', LIB);
      if (fs.existsSync(file)) found.push({ file, major: Number(llvm.slice('llvm-'.length)) });
    }
  }
  found.sort((a, b) => a.major - b.major);
  if (found.length === 0) {
    process.stderr.write(`${LIB} not found: apt-get install libclang-rt-14-dev (or set LIBFUZZER_A)\n`);
    process.exit(1);
  }
  return found[found.length - 1].file;
}
process.stdout.write(find());
