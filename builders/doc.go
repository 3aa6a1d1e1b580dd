// Package builders is the root of measure's deterministic builders: firmware
// (edk2 OVMF), guest kernels, initramfs and whole guests, built from pinned
// sources in a pinned toolchain. It holds no code; see the subpackages:
//
//   - run: the Runner interface through which every external process starts,
//     with a real implementation that ends a cancelled process's whole tree;
//     run/runtest has a fake that records commands.
//   - sandbox: the bubblewrap command line that runs one step: a user
//     namespace as an id no host user has, no capabilities, a read-only
//     nosuid toolchain root, no terminal, no network, death with its parent.
//   - toolchain: an mmdebstrap'd Debian root at pinned package versions,
//     stored as an OCI image layout, named by its digest, verified before use.
//   - engine: the one build engine (steps in the sandbox, verified inputs,
//     outputs copied without following links, lock, Check, shell).
//   - firmware, kernel: recipes (YAML, embedded) turned into engine jobs.
//   - initramfs, guest: the initramfs archive, and a guest from a firmware,
//     a kernel and an initramfs recipe with its reference values.
//
// The builders are the only part of measure that runs external processes.
package builders
