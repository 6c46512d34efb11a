#!/usr/bin/env bash
# Brings every package's PublicAPI.Unshipped.txt in line with its code, from the PublicApiAnalyzers' own findings:
#   RS0016 (public, not declared)        -> the symbol is added to PublicAPI.Unshipped.txt;
#   RS0017 (declared, not public/found)  -> its line is removed from PublicAPI.Unshipped.txt, or, when PublicAPI.Shipped.txt has it,
#                                           "*REMOVED*<symbol>" is added to PublicAPI.Unshipped.txt (a breaking change: review it).
# Rebuilds src/ (Debug) once to collect them. Review the diff afterwards: every line is a public API change.
#   tools/public-api-update.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

dotnet new sln --name src --output "$work" >/dev/null
dotnet sln "$work/src.slnx" add src/*/*.csproj >/dev/null
dotnet build "$work/src.slnx" --no-incremental >"$work/build.log" 2>&1 || true

# "<project dir>\t<rule>\t<symbol>" for each finding, once.
sed -nE "s/^.*: warning (RS001[67]): Symbol '(.*)' is (not part of the declared public API|part of the declared API, but is either not public or could not be found).* \[(.*)\/[^/]*\.csproj\]$/\4\t\1\t\2/p" \
  "$work/build.log" | LC_ALL=C sort -u >"$work/findings"

changed=0
for dir in src/*/; do
  dir=$(cd "$dir" && pwd)
  unshipped="$dir/PublicAPI.Unshipped.txt"
  shipped="$dir/PublicAPI.Shipped.txt"
  entries="$work/entries"
  grep -vxF '#nullable enable' "$unshipped" | sed '/^$/d' >"$entries" || true
  while IFS=$'\t' read -r project rule symbol; do
    [ "$project" = "$dir" ] || continue
    if [ "$rule" = RS0016 ]; then
      echo "$symbol" >>"$entries"
    elif grep -qxF "$symbol" "$entries"; then
      grep -vxF "$symbol" "$entries" >"$entries.new" || true
      mv "$entries.new" "$entries"
    elif grep -qxF "$symbol" "$shipped"; then
      echo "*REMOVED*$symbol" >>"$entries"
    fi
  done <"$work/findings"
  { echo '#nullable enable'; LC_ALL=C sort -u "$entries"; } >"$work/unshipped"
  if ! cmp -s "$work/unshipped" "$unshipped"; then
    cp "$work/unshipped" "$unshipped"
    echo "updated ${unshipped#"$PWD/"}"
    changed=1
  fi
done
[ "$changed" -eq 1 ] || echo "every PublicAPI.Unshipped.txt is up to date"
if grep -q ': error ' "$work/build.log"; then
  grep ': error ' "$work/build.log" | sort -u >&2
  echo "the build has errors: fix them and run this again" >&2
  exit 1
fi
