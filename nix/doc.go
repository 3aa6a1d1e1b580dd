// Package nix holds the tests of the repository's flake.nix and the file it
// reads, recipes.json: the embedded OVMF recipes (builders/firmware)
// exported for Nix, which cannot read YAML. The tests check that the export
// is current, that the flake parses, and evaluate its outputs offline
// against a stub nixpkgs to check that each firmware derivation carries its
// recipe's sources, patches and build flags. They need no network and skip
// the Nix parts where nix-instantiate is absent. Nothing is built.
package nix
