#!/usr/bin/env bash
# Regenerates the TypeScript readers and builders of VAST's flatbuffers messages
# from the schema files in src/adapters/vast/protocol/fbs/, and records the
# command and the compiler's version beside the output (GENERATED.md).
#
# The committed code was made with Debian's flatc 2.0.8
# (`apt-get install -y flatbuffers-compiler`); another version may generate
# different code, so the script says which one it ran.
#
# --ts-flat-files writes one module per schema file instead of one per type:
# the per-type layout imports in circles (an Expression holds Calls, a Call
# holds Expressions), which the architecture test refuses under src/.
set -euo pipefail

cd "$(dirname "$0")/.."
fbs_dir=src/adapters/vast/protocol/fbs
out_dir=src/adapters/vast/protocol/generated

if ! command -v flatc >/dev/null 2>&1; then
  echo "flatc not found: apt-get install -y flatbuffers-compiler (the committed code came from flatc 2.0.8)" >&2
  exit 1
fi

version=$(flatc --version)
command=(flatc --ts --ts-flat-files -I "$fbs_dir" -o "$out_dir"
  "$fbs_dir/arrow-schema.fbs" "$fbs_dir/computeir.fbs" "$fbs_dir/tabular.fbs")

rm -rf "$out_dir"
mkdir -p "$out_dir"
echo "$version"
echo "${command[*]}"
"${command[@]}"

cat >"$out_dir/GENERATED.md" <<EOF
# Generated code: do not edit

Made by \`scripts/generate-vast-flatbuffers.sh\` from the schema files in
\`../fbs/\`, with $version:

\`\`\`sh
${command[*]}
\`\`\`

Edit the schema files and run the script again; commit the output with them.
EOF
