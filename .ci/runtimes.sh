#!/usr/bin/env bash
# The fork-safety battery on .NET runtimes the SDK does not ship (issue 24, docs/fork-safety.md,
# "Runtimes"). For each VERSION (default: 10.0.15 11.0.0) it lays out Microsoft.NETCore.App and
# Microsoft.AspNetCore.App VERSION from their NuGet runtime packs as shared frameworks beside a copy
# of the installed `dotnet` host, then runs the battery's tests with their scenario processes (the
# processes that fork) started on that runtime: the test host stays on the SDK's runtime, every
# fork is made on VERSION (Isolation/IsolatedProcess.cs, PPROCESS_TEST_DOTNET), and a test checks
# that the scenarios really ran on VERSION (TheScenariosRunOnTheRuntimeTheBatteryWasAskedFor).
#
#   .ci/runtimes.sh [VERSION...]          lay out and run the battery (after dotnet build PProcess.sln)
#   .ci/runtimes.sh --layout VERSION DIR  only lay out VERSION under DIR; then run a net10.0 program
#                                         with DOTNET_ROLL_FORWARD=Major DIR/dotnet app.dll
set -euo pipefail
cd "$(dirname "$0")/.."

# python3 writes the framework's deps.json from the pack's file list.
if ! command -v python3 >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq python3
fi

# Lays out the runtime packs of VERSION under ROOT as a dotnet installation: ROOT/dotnet,
# ROOT/host/fxr/VERSION, ROOT/shared/Microsoft.NETCore.App/VERSION, ROOT/shared/Microsoft.AspNetCore.App/VERSION.
layout() {
    local ver=$1 root=$2 work
    work=$(mktemp -d)
    # PackageDownload fetches a package without referencing it; one version of a name per project.
    cat >"$work/download.csproj" <<CSPROJ
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>net10.0</TargetFramework></PropertyGroup>
  <ItemGroup>
    <PackageDownload Include="Microsoft.NETCore.App.Runtime.linux-x64" Version="[$ver]" />
    <PackageDownload Include="Microsoft.AspNetCore.App.Runtime.linux-x64" Version="[$ver]" />
  </ItemGroup>
</Project>
CSPROJ
    # The repository's nuget.config (nuget.org only), and the caller's NUGET_PACKAGES if any (CI's fresh one).
    dotnet restore "$work/download.csproj" --configfile nuget.config -v q >/dev/null
    local packages=${NUGET_PACKAGES:-$HOME/.nuget/packages}
    local core="$packages/microsoft.netcore.app.runtime.linux-x64/$ver" asp="$packages/microsoft.aspnetcore.app.runtime.linux-x64/$ver"
    local host
    host=$(dirname "$(readlink -f "$(command -v dotnet)")")
    rm -rf "$root"
    mkdir -p "$root/host/fxr/$ver" "$root/shared/Microsoft.NETCore.App/$ver" "$root/shared/Microsoft.AspNetCore.App/$ver"
    cp "$host/dotnet" "$root/"
    # The pack's own hostfxr resolves the frameworks, as an installation of VERSION would.
    cp "$core/runtimes/linux-x64/native/libhostfxr.so" "$root/host/fxr/$ver/"
    cp "$core"/runtimes/linux-x64/lib/net*/* "$core"/runtimes/linux-x64/native/* "$root/shared/Microsoft.NETCore.App/$ver/"
    rm -f "$root/shared/Microsoft.NETCore.App/$ver/libhostfxr.so"
    # ASP.NET Core's pack carries its deps.json and runtimeconfig.json; the core pack does not
    # carry Microsoft.NETCore.App.deps.json, which the host needs: made from the pack's file list.
    cp "$asp"/runtimes/linux-x64/lib/net*/* "$root/shared/Microsoft.AspNetCore.App/$ver/"
    python3 - "$core/data/RuntimeList.xml" "$root/shared/Microsoft.NETCore.App/$ver" "$ver" <<'PY'
import json, os, sys, xml.etree.ElementTree as ET
runtime_list, fx, ver = sys.argv[1:]
major, minor = ver.split(".")[:2]
managed, native = {}, {}
for f in ET.parse(runtime_list).getroot():
    name = os.path.basename(f.get("Path"))
    if not os.path.exists(os.path.join(fx, name)):
        continue
    if f.get("Type") == "Managed":
        managed[name] = {"assemblyVersion": f.get("AssemblyVersion"), "fileVersion": f.get("FileVersion")}
    elif name.endswith(".so"):
        native[name] = {"fileVersion": f.get("FileVersion") or "0.0.0.0"}
target = f".NETCoreApp,Version=v{major}.{minor}"
library = f"Microsoft.NETCore.App.Runtime.linux-x64/{ver}"
deps = {"runtimeTarget": {"name": target + "/linux-x64", "signature": ""}, "compilationOptions": {},
        "targets": {target: {}, target + "/linux-x64": {library: {"runtime": managed, "native": native}}},
        "libraries": {library: {"type": "package", "serviceable": True, "sha512": "", "path": library.lower()}}}
with open(os.path.join(fx, "Microsoft.NETCore.App.deps.json"), "w") as out:
    json.dump(deps, out, indent=1)
PY
    rm -rf "$work"
}

if [[ ${1:-} == --layout ]]; then
    layout "${2:?version}" "${3:?folder}"
    exit 0
fi

versions=("$@")
[[ ${#versions[@]} -gt 0 ]] || versions=(10.0.15 11.0.0)
runtimes=$(mktemp -d)
trap 'rm -rf "$runtimes"' EXIT
# The battery: the tests whose scenario processes fork from programs shaped as users write them.
battery='FullyQualifiedName~ThreadPoolInChildTests|FullyQualifiedName~ForkSafetyTests|FullyQualifiedName~ChildExitTests|FullyQualifiedName~ForkStartTests|FullyQualifiedName~BusyServerTests|FullyQualifiedName~TieringTests'
for ver in "${versions[@]}"; do
    started=$SECONDS
    layout "$ver" "$runtimes/$ver"
    echo "== the fork-safety battery on .NET $ver ($runtimes/$ver), laid out in $((SECONDS - started)) s"
    PPROCESS_TEST_DOTNET="$runtimes/$ver/dotnet" PPROCESS_TEST_RUNTIME="$ver" \
        dotnet test PProcess.Tests --no-build --filter "$battery"
    echo "== .NET $ver: the battery took $((SECONDS - started)) s"
done
