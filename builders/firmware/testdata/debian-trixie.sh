# unpack
tar -xf /build/src/edk2_2025.02.orig.tar.xz --no-same-owner --strip-components=1 -C .
tar -xf /build/src/edk2_2025.02-8+deb13u1.debian.tar.xz --no-same-owner --strip-components=0 -C .
sed -e 's/#.*//' -e '/^[[:space:]]*$/d' debian/patches/series | while read -r p _; do echo "patch $p"; patch -p1 -s -N < debian/patches/"$p"; done
# build
. ./edksetup.sh
make -C BaseTools ARCH=X64
build -a X64 -t GCC5 -p OvmfPkg/OvmfPkgX64.dsc -b RELEASE -n 2 -D CC_MEASUREMENT_ENABLE=TRUE -D NETWORK_HTTP_BOOT_ENABLE=TRUE -D NETWORK_IP6_ENABLE=TRUE -D NETWORK_TLS_ENABLE -D TPM2_ENABLE=TRUE --pcd 'PcdFirmwareVendor=LDebian distribution of EDK II\0' --pcd 'PcdFirmwareVersionString=L2025.02-8+deb13u1\0' --pcd 'PcdFirmwareReleaseDateString=L11/08/2025\0' --pcd PcdUninstallMemAttrProtocol=TRUE
