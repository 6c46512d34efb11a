#!/usr/bin/env bash
# Consumer test (issue 13): the packages as another team gets them.
#   1. every package (each project under src/) packed in Release into a local folder feed (build output in a temp folder, never in
#      the repository);
#   2. each package has its README, tags, repository metadata and a .snupkg whose PDB carries SourceLink;
#   3. a fresh web app in a temp folder, outside the solution (no Directory.Build.props, no central versions), whose nuget.config
#      resolves MultiTenant.* from the folder feed only and everything else from this machine's NuGet sources, with its own packages
#      folder (the machine's is a fallback for third-party packages), is built from tests/consumer/Program.cs (the README's host code);
#   4. it runs: one tenant started through the API, /ready answers 200, /metrics has the tenant series, the tenant is stopped, and
#      SIGTERM ends the process with exit code 0.
# Any failure prints "consumer test: FAILED: <what>" with the log that explains it, and exits non-zero. Needs dotnet, curl, unzip.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/multitenant-consumer.XXXXXX")
feed="$work/feed"
app_dir="$work/app"
app_log="$work/app.log"
app_pid=""
started=$SECONDS

cleanup() {
  if [ -n "$app_pid" ] && kill -0 "$app_pid" 2>/dev/null; then
    kill -KILL "$app_pid" 2>/dev/null || true
    wait "$app_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

step() { echo "consumer test [+$((SECONDS - started)) s]: $*"; }
# fail <what> [log file]: the reason, then the end of the log that explains it.
fail() {
  echo "consumer test: FAILED: $1" >&2
  if [ -n "${2:-}" ] && [ -f "$2" ]; then
    echo "---- last lines of $(basename "$2") ----" >&2
    tail -n 60 "$2" >&2
    echo "----" >&2
  fi
  exit 1
}

for tool in dotnet curl unzip; do
  command -v "$tool" >/dev/null || fail "'$tool' is not installed"
done
# Anything the test writes goes to $work: a file of the repository newer than this marker at the end is a defect.
touch "$work/started"

# --- 1. Pack every package (each project under src/) into the folder feed. --------------------------------------------------------
# Through a solution of src/'s projects only, built in Release into $work: what `dotnet pack MultiTenant.sln` packs, without
# compiling the tests, samples and benchmarks a second time.
step "packing src/*/*.csproj into a folder feed"
if ! { dotnet new sln --name packages --output "$work" &&
       dotnet sln "$work/packages.slnx" add "$repo"/src/*/*.csproj &&
       dotnet pack "$work/packages.slnx" -c Release -o "$feed" --artifacts-path "$work/artifacts"; } >"$work/pack.log" 2>&1; then
  fail "dotnet pack of the packages failed" "$work/pack.log"
fi
if grep -Eq ': warning [A-Z]+[0-9]+' "$work/pack.log"; then
  grep -E ': warning [A-Z]+[0-9]+' "$work/pack.log" | sort -u >&2
  fail "dotnet pack of the packages printed warnings"
fi

# The packages: one per project under src/, named after it.
declare -A versions=()
for project in "$repo"/src/*/*.csproj; do
  id=$(basename "$project" .csproj)
  nupkg=$(find "$feed" -maxdepth 1 -name "$id.[0-9]*.nupkg" | head -n 1)
  [ -n "$nupkg" ] || fail "no package $id in the feed (src/$id has a project)" "$work/pack.log"
  version=$(basename "$nupkg" .nupkg); version=${version#"$id."}
  versions[$id]=$version
done

# --- 2. Metadata, README, symbols and SourceLink of each package. ------------------------------------------------------------------
step "checking metadata, README, symbols and SourceLink of ${#versions[@]} packages"
for id in "${!versions[@]}"; do
  version=${versions[$id]}
  nupkg="$feed/$id.$version.nupkg"
  snupkg="$feed/$id.$version.snupkg"
  nuspec=$(unzip -p "$nupkg" "$id.nuspec") || fail "$id $version has no $id.nuspec"
  for element in '<readme>README.md</readme>' '<projectUrl>https://' '<repository type="git" url="https://' '<tags>' '<license type="expression">'; do
    grep -qF "$element" <<<"$nuspec" || fail "$id $version: the nuspec has no $element"
  done
  unzip -l "$nupkg" README.md >/dev/null 2>&1 || fail "$id $version does not contain its README.md"
  [ -f "$snupkg" ] || fail "$id $version has no symbol package $(basename "$snupkg")"
  pdb=$(unzip -p "$snupkg" "lib/*/$id.pdb" | tr -d '\0') || fail "$id $version: the symbol package has no $id.pdb"
  grep -q '"documents":{"[^"]*":"https://raw.githubusercontent.com/' <<<"$pdb" ||
    fail "$id $version: the PDB carries no SourceLink to raw.githubusercontent.com"
  if [ "${CI:-}" = "true" ] && grep -qF "$repo/" <<<"$pdb"; then
    fail "$id $version: the PDB holds the build folder's paths although CI=true (ContinuousIntegrationBuild)"
  fi
done

# --- 3. A fresh web app outside the solution, referencing the packages from the feed only. -----------------------------------------
step "building a fresh web app against ${!versions[*]}"
machine_packages=$(dotnet nuget locals global-packages --list | sed -n 's/^global-packages: *//p')
machine_sources=$(cd "$repo" && dotnet nuget list source --format short | sed -n 's/^E *//p')
mkdir -p "$app_dir" "$work/packages"
cp "$repo/tests/consumer/Program.cs" "$app_dir/Program.cs"
# Stop MSBuild's search for Directory.*.props/targets at the app's folder: nothing of the repository, nor of the temp folder, applies.
for file in Directory.Build.props Directory.Build.targets Directory.Packages.props; do echo '<Project />' >"$app_dir/$file"; done

{
  echo '<Project Sdk="Microsoft.NET.Sdk.Web">'
  echo '  <PropertyGroup>'
  echo '    <TargetFramework>net10.0</TargetFramework>'
  echo '    <Nullable>enable</Nullable>'
  echo '    <ImplicitUsings>enable</ImplicitUsings>'
  echo '    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>'
  echo '    <!-- Vulnerability audit is the solution build'"'"'s job; here a new advisory must not fail the consumer test. -->'
  echo '    <NuGetAudit>false</NuGetAudit>'
  echo '  </PropertyGroup>'
  echo '  <ItemGroup>'
  for id in "${!versions[@]}"; do echo "    <PackageReference Include=\"$id\" Version=\"${versions[$id]}\" />"; done
  echo '  </ItemGroup>'
  echo '</Project>'
} >"$app_dir/ConsumerApp.csproj"

{
  echo '<?xml version="1.0" encoding="utf-8"?>'
  echo '<configuration>'
  echo '  <packageSources>'
  echo '    <clear />'
  echo "    <add key=\"multitenant-feed\" value=\"$feed\" />"
  n=0
  while read -r source; do
    [ -n "$source" ] || continue
    echo "    <add key=\"machine-$n\" value=\"$source\" />"; n=$((n + 1))
  done <<<"$machine_sources"
  echo '  </packageSources>'
  echo '  <fallbackPackageFolders>'
  echo '    <clear />'
  [ -z "$machine_packages" ] || echo "    <add key=\"machine\" value=\"$machine_packages\" />"
  echo '  </fallbackPackageFolders>'
  echo '  <packageSourceMapping>'
  echo '    <clear />'
  echo '    <packageSource key="multitenant-feed"><package pattern="MultiTenant.*" /></packageSource>'
  for ((i = 0; i < n; i++)); do echo "    <packageSource key=\"machine-$i\"><package pattern=\"*\" /></packageSource>"; done
  echo '  </packageSourceMapping>'
  echo '</configuration>'
} >"$app_dir/nuget.config"

# Its own packages folder, so a package packed again with the same version is never taken from a cache.
if ! (cd "$app_dir" && NUGET_PACKAGES="$work/packages" dotnet build -c Release >"$work/build.log" 2>&1); then
  echo "(nuget.config of the consumer app:)" >&2; cat "$app_dir/nuget.config" >&2
  fail "the consumer app did not build against the packages (tests/consumer/Program.cs against the README's API?)" "$work/build.log"
fi
for id in "${!versions[@]}"; do
  lower=$(tr '[:upper:]' '[:lower:]' <<<"$id"); lower_version=$(tr '[:upper:]' '[:lower:]' <<<"${versions[$id]}")
  metadata="$work/packages/$lower/$lower_version/.nupkg.metadata"
  [ -f "$metadata" ] || fail "$id ${versions[$id]} was not restored into the app's own packages folder (taken from a fallback folder?)"
  grep -qF "\"source\": \"$feed\"" "$metadata" || fail "$id ${versions[$id]} was restored from elsewhere than the folder feed: $(cat "$metadata")"
done

# --- 4. Run it: one tenant through the API, /ready 200, then stop. -----------------------------------------------------------------
step "running the consumer app"
api_key=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
(cd "$app_dir" && exec env API_KEY="$api_key" ASPNETCORE_ENVIRONMENT=Production \
  dotnet bin/Release/net10.0/ConsumerApp.dll --urls http://127.0.0.1:0) >"$app_log" 2>&1 &
app_pid=$!

base=""
for _ in $(seq 1 300); do
  base=$(sed -n 's/.*Now listening on: \(http:\/\/127\.0\.0\.1:[0-9]*\).*/\1/p' "$app_log" | head -n 1)
  [ -z "$base" ] || break
  kill -0 "$app_pid" 2>/dev/null || fail "the consumer app exited before listening" "$app_log"
  sleep 0.1
done
[ -n "$base" ] || fail "the consumer app did not listen within 30 s" "$app_log"

# call <method> <path> [json body]: prints the body, then the status code on the last line.
call() {
  local args=(-sS -o - -w '\n%{http_code}' -X "$1" -H "Authorization: Bearer $api_key" --max-time 10)
  [ -z "${3:-}" ] || args+=(-H 'Content-Type: application/json' -d "$3")
  curl "${args[@]}" "$base$2"
}
status_of() { tail -n 1 <<<"$1"; }

response=$(call POST /api/tenants '{"business_id":"consumer1"}') || fail "POST /api/tenants failed: $response" "$app_log"
[ "$(status_of "$response")" = 201 ] || fail "POST /api/tenants answered $(status_of "$response"), expected 201: $response" "$app_log"

ready=""
for _ in $(seq 1 200); do
  ready=$(call GET /ready) || true
  [ "$(status_of "$ready")" = 200 ] && break
  sleep 0.1
done
[ "$(status_of "$ready")" = 200 ] || fail "/ready did not answer 200 within 20 s of the tenant's start: $ready" "$app_log"
grep -q '"ready":true' <<<"$ready" || fail "/ready answered 200 without \"ready\":true: $ready"

metrics=$(call GET /metrics) || fail "GET /metrics failed" "$app_log"
[ "$(status_of "$metrics")" = 200 ] || fail "/metrics answered $(status_of "$metrics")" "$app_log"
grep -Eq '^whatsmeow_tenants_connected(\{[^}]*\})? 1(\.0)?$' <<<"$metrics" ||
  fail "/metrics has no whatsmeow_tenants_connected 1: $(grep whatsmeow_tenants <<<"$metrics" || echo 'no whatsmeow_tenants series')"

response=$(call DELETE /api/tenants/consumer1) || fail "DELETE /api/tenants/consumer1 failed" "$app_log"
[ "$(status_of "$response")" = 200 ] || fail "DELETE /api/tenants/consumer1 answered $(status_of "$response"), expected 200: $response" "$app_log"

kill -TERM "$app_pid"
exit_code=0
wait "$app_pid" || exit_code=$?
app_pid=""
[ "$exit_code" -eq 0 ] || fail "the consumer app exited with $exit_code after SIGTERM, expected 0" "$app_log"

written=$(find "$repo" -path "$repo/.git" -prune -o -type f -newer "$work/started" -print | head -n 20)
[ -z "$written" ] || fail "the consumer test wrote files into the repository:
$written"

packages=""
for id in "${!versions[@]}"; do packages+=" $id ${versions[$id]},"; done
step "passed in $((SECONDS - started)) s (${packages%,})"
