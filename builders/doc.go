// Package builders is the root of measure's deterministic builders: firmware
// (edk2 OVMF) built from pinned sources in a pinned toolchain. It holds no
// code; see the subpackages:
//
//   - run: the Runner interface through which every external process starts,
//     with a real implementation; run/runtest has a fake that records commands.
//   - sandbox: the command line that runs a step in a chroot with new mount,
//     PID, network, UTS and IPC namespaces, a fixed user, hostname, umask,
//     time zone and locale.
//   - toolchain: a debootstrapped Debian root at pinned package versions,
//     stored as an OCI image layout and named by its digest.
//   - firmware: recipes (YAML, embedded) and the edk2 build that follows them.
//
// The builders are the only part of measure that runs external processes.
package builders
