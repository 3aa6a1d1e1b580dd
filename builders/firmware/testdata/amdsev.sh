# unpack
tar -xf /build/src/edk2_2025.02.orig.tar.xz --no-same-owner --strip-components=1 -C .
tar -xf /build/src/edk2_2025.02-8+deb13u1.debian.tar.xz --no-same-owner --strip-components=0 -C .
sed -e 's/#.*//' -e '/^[[:space:]]*$/d' debian/patches/series | while read -r p _; do echo "patch $p"; patch -p1 -s -N < debian/patches/"$p"; done
echo "patch edk2-deterministic-stack-cookies.patch"; patch -p1 -s -N < /build/patches/edk2-deterministic-stack-cookies.patch
echo "patch amdsev-grub-reproducible.patch"; patch -p1 -s -N < /build/patches/amdsev-grub-reproducible.patch
# build
. ./edksetup.sh
make -C BaseTools ARCH=X64
build -a X64 -t GCC5 -p OvmfPkg/AmdSev/AmdSevX64.dsc -b RELEASE -n 2 -D CC_MEASUREMENT_ENABLE=TRUE
