# measure as a Nix flake: the `measure` binary (buildGoModule), a dev shell
# with the toolchain the tests use, and one firmware derivation per embedded
# OVMF recipe (builders/firmware/recipes/*.yaml, exported to
# nix/recipes.json; `go test ./nix -update` regenerates it and the test fails
# while it is stale), with the same edk2 sources and sha256s, patches, build
# directory, SOURCE_DATE_EPOCH, defines and PCDs.
#
# What was checked without network is in docs/oci.md ("Nix"): parsing and an
# evaluation of the outputs against a stub nixpkgs. No derivation has been
# built here. The compilers come from nixpkgs, not from the recipes' pinned
# Debian toolchain, so the firmware bytes (and measurements) may differ from
# `measure build ovmf`'s; measure what you build: `measure snp --ovmf
# result/OVMF.fd ...`.
#
# No flake.lock is committed: it cannot be made offline. `nix flake lock`
# pins nixpkgs on first use; commit the lock file to pin it for everyone.
{
  description = "measure: launch measurements of confidential VMs (AMD SEV-SNP, Intel TDX) from public firmware";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAllSystems = f: builtins.listToAttrs (map (system: { name = system; value = f system nixpkgs.legacyPackages.${system}; }) systems);

      version = "0.0.0-" + (self.shortRev or self.dirtyShortRev or "unknown");

      # The embedded recipes, exported by `go test ./nix -update`.
      recipes = builtins.fromJSON (builtins.readFile ./nix/recipes.json);

      # Placeholder: Nix computes the hash of the vendored Go modules, which
      # needs the network. Build once (`nix build .#measure`), copy the
      # "got: sha256-..." it prints here, and commit.
      vendorHash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

      shellQuote = s: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] s + "'";
      unwords = builtins.concatStringsSep " ";
      unlines = builtins.concatStringsSep "\n";

      # The Go release go.mod asks for, where this nixpkgs has it.
      goFor = pkgs: pkgs.go_1_26 or pkgs.go;

      measureFor = pkgs:
        (pkgs.buildGoModule.override { go = goFor pkgs; }) {
          pname = "measure";
          inherit version vendorHash;
          src = self;
          subPackages = [ "cmd/measure" ];
          env.CGO_ENABLED = "0";
          # As scripts/release builds it (buildGoModule adds -trimpath and
          # -buildvcs=false itself).
          ldflags = [ "-buildid=" "-X main.version=${version}" ];
          # The tests need fixtures, openssl, docker-registry and `go list`
          # over the module cache; run them in the dev shell: go test ./...
          doCheck = false;
          meta = {
            description = "Compute AMD SEV-SNP and Intel TDX launch measurements from public firmware";
            homepage = "https://github.com/measure-cc/measure";
            mainProgram = "measure";
          };
        };

      # One edk2 build, as builders/firmware/script.go writes it for the
      # sandbox: unpack each source, apply the Debian series and the
      # project's patches, edksetup, the setup commands, then `build`.
      firmwareFor = pkgs: r:
        let
          b = r.build;
          srcs = map (s: pkgs.fetchurl { url = s.url; sha256 = s.sha256; }) r.sources;
          unpack = unlines (builtins.genList (i:
            let s = builtins.elemAt r.sources i; dir = s.dir or "."; in
            "mkdir -p ${shellQuote dir}; tar -xf ${builtins.elemAt srcs i} --no-same-owner --strip-components=${toString (s.strip or 0)} -C ${shellQuote dir}")
            (builtins.length r.sources));
          series = r.patches.series or "";
          seriesCmd = if series == "" then "" else
            "sed -e 's/#.*//' -e '/^[[:space:]]*$/d' ${shellQuote series} | while read -r p _; do echo \"patch $p\"; patch -p1 -s -N < ${shellQuote (dirOf series)}/\"$p\"; done";
          patchCmds = map (f: "echo ${shellQuote "patch ${f}"}; patch -p1 -s -N < ${self}/builders/firmware/recipes/patches/${f}") (r.patches.files or [ ]);
          buildArgs = [ "build" ]
            ++ builtins.concatMap (a: [ "-a" a ]) b.arch
            ++ [ "-t" b.toolChain "-p" b.platform "-b" b.target ]
            ++ builtins.concatMap (d: [ "-D" d ]) (b.defines or [ ])
            ++ builtins.concatMap (p: [ "--pcd" p ]) (b.pcds or [ ]);
        in
        pkgs.stdenv.mkDerivation ({
          pname = "ovmf-${r.name}";
          version = "recipe";
          inherit srcs;
          nativeBuildInputs = [ pkgs.nasm pkgs.acpica-tools pkgs.python3 pkgs.python3.pkgs.setuptools pkgs.bc pkgs.libuuid pkgs.util-linux ];
          hardeningDisable = [ "all" ];
          SOURCE_DATE_EPOCH = toString r.sourceDateEpoch;
          PYTHONHASHSEED = "0";
          recipeName = r.name;
          recipeBuildDir = b.dir;
          # The recipe's build directory (/build/...) exists as such in the
          # Linux sandbox, where NIX_BUILD_TOP is /build; elsewhere the same
          # path under NIX_BUILD_TOP.
          unpackPhase = ''
            runHook preUnpack
            dir=${shellQuote b.dir}
            case "$dir" in /build/*) [ "$NIX_BUILD_TOP" = /build ] || dir="$NIX_BUILD_TOP/''${dir#/build/}" ;; esac
            mkdir -p "$dir" && cd "$dir"
            ${unpack}
            runHook postUnpack
          '';
          patchPhase = ''
            runHook prePatch
            ${seriesCmd}
            ${unlines patchCmds}
            runHook postPatch
          '';
          buildPhase = ''
            runHook preBuild
            . ./edksetup.sh
            ${unlines (b.setup or [ ])}
            ${unwords (map shellQuote buildArgs)} -n "$NIX_BUILD_CORES"
            runHook postBuild
          '';
          installPhase = ''
            runHook preInstall
            mkdir -p "$out"
            ${unlines (map (o: "cp ${shellQuote o.from} \"$out\"/${shellQuote o.name}") r.outputs)}
            runHook postInstall
          '';
          dontStrip = true;
          dontFixup = true;
          meta.description = r.description;
          meta.platforms = [ "x86_64-linux" ];
        } // (b.env or { }));

      firmwareAttrs = pkgs: builtins.listToAttrs (map (n: { name = "ovmf-${n}"; value = firmwareFor pkgs recipes.${n}; }) (builtins.attrNames recipes));
    in
    {
      packages = forAllSystems (system: pkgs:
        let measure = measureFor pkgs; in
        { inherit measure; default = measure; }
        // (if system == "x86_64-linux" then firmwareAttrs pkgs else { }));

      devShells = forAllSystems (system: pkgs: {
        default = pkgs.mkShell {
          # go test ./... : Go, openssl (DSSE interop test), CNCF
          # distribution (real-registry test), nix (flake test).
          packages = [ (goFor pkgs) pkgs.gopls pkgs.openssl pkgs.nix pkgs.git ]
            ++ (if pkgs ? distribution then [ pkgs.distribution ] else [ ]);
        };
      });
    };
}
