# unpack
dpkg-deb --fsys-tarfile '/build/src/linux-source-6.12_6.12.117-1~deb12u1_all.deb' | tar -xOf - ./usr/src/linux-source-6.12.tar.xz | tar -xJf - --no-same-owner --strip-components=1
# configure
make ARCH=x86_64 tinyconfig
scripts/kconfig/merge_config.sh -m .config /build/config-fragment
make ARCH=x86_64 olddefconfig
# every line of the fragment must hold after olddefconfig
bad=0
while IFS= read -r l; do
  case "$l" in
    '# CONFIG_'*' is not set') n=${l#'# '}; n=${n%' is not set'}
      if grep -q "^$n=" .config; then echo "config: want '$l', got '$(grep "^$n=" .config)'"; bad=1; fi ;;
    *) grep -qxF -- "$l" .config || { echo "config: want '$l', got '$(grep "^${l%%=*}=" .config || echo unset)'"; bad=1; } ;;
  esac
done < /build/config-fragment
if [ $bad != 0 ]; then echo 'config: the fragment did not take; see above' >&2; exit 1; fi
# build
make ARCH=x86_64 -j2 bzImage
