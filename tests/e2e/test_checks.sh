#!/usr/bin/env bash
# The test command's own gates (issue 14): scripts/check-layers and
# scripts/check-format must catch what they exist to catch. Each check
# runs on a copy of src/ with exactly one violation put in, and must fail
# naming it; the unchanged copy must pass.
source "$(dirname "$0")/lib.sh"
pv_setup
S=$PV_SOURCE_DIR/scripts

fresh() { rm -rf "$T/src"; cp -r "$PV_SOURCE_DIR/src" "$T/src"; }
layers() { python3 "$S/check-layers" "$T/src" 2>&1; }

fresh
out=$(layers) && rc=0 || rc=$?
expect_eq "the tree as it is passes check-layers" 0 "$rc"
expect_contains "… with a summary" "$out" "0 violations"

# (a) an include that goes up the layers: crypto/ including http/
fresh
sed -i '0,/#include "common\/pv.h"/s//#include "common\/pv.h"\n#include "http\/http.h"/' "$T/src/crypto/crypto.h"
out=$(layers) && rc=0 || rc=$?
expect_eq "an upward include fails" 1 "$rc"
expect_contains "… naming the file and the rule" "$out" "crypto.h"
expect_contains "… as a higher layer" "$out" "higher layer"

# (a) an include of the same layer: store/ including audit/
fresh
echo '#include "audit/audit.h"' >>"$T/src/store/store.c"
out=$(layers) && rc=0 || rc=$?
expect_eq "a same-layer include fails" 1 "$rc"
expect_contains "… named" "$out" "store.c"

# (a) a folder not in the layer table
fresh
mkdir "$T/src/newthing" && echo 'int x;' >"$T/src/newthing/a.c"
out=$(layers) && rc=0 || rc=$?
expect_eq "a new folder fails until it is in the table" 1 "$rc"
expect_contains "… with what to do" "$out" "add it to the layer table"

# (b) a cycle between folders
fresh
echo '#include "fhir/fhir.h"' >>"$T/src/deid/deid.h"
echo '#include "deid/deid.h"' >>"$T/src/fhir/apply.c"
out=$(layers) && rc=0 || rc=$?
expect_eq "an include cycle fails" 1 "$rc"
expect_contains "… reported as a cycle" "$out" "cycle"

# (c) the store's ops table used outside the store
fresh
printf 'static int f(struct pv_store *s) { return s->ops->close != 0; }\n' \
  >>"$T/src/fhir/apply.c"
out=$(layers) && rc=0 || rc=$?
expect_eq "->ops-> outside src/store fails" 1 "$rc"
expect_contains "… named" "$out" "->ops->"

# (d) a file over 800 lines
fresh
for _ in $(seq 1 810); do echo '/* */'; done >>"$T/src/common/util.c"
out=$(layers) && rc=0 || rc=$?
expect_eq "a file over 800 lines fails" 1 "$rc"
expect_contains "… named" "$out" "over the limit of 800"

# check-format: a file clang-format would change is found, the rest pass.
if command -v clang-format >/dev/null; then
  cp "$PV_SOURCE_DIR/src/common/util.c" "$T/ugly.c"
  sed -i 's/^\t/  /' "$T/ugly.c"
  cp "$PV_SOURCE_DIR/.clang-format" "$T/.clang-format"
  out=$("$S/check-format" "$T/ugly.c" 2>&1) && rc=0 || rc=$?
  expect_eq "check-format fails on a misformatted file" 1 "$rc"
  expect_contains "… naming it" "$out" "ugly.c"
  cp "$PV_SOURCE_DIR/src/common/util.c" "$T/fine.c"
  out=$("$S/check-format" "$T/fine.c" 2>&1) && rc=0 || rc=$?
  expect_eq "check-format passes a formatted file" 0 "$rc"
else
  fail "clang-format is not installed (scripts/deps test installs it)"
fi
